import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompleteMultipartUploadCommandOutput,
  CreateMultipartUploadCommand,
  type CreateMultipartUploadCommandOutput,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { InfrastructureError, isInfrastructureError, outcomeUnknownError } from "@proj/ports";
import { startDeadline, withDeadline } from "./deadline.js";
import type { Janitor } from "./janitor.js";
import { mapS3Error } from "./map-s3-error.js";
import { isWorthRetrying, requestOutcome } from "./request-outcome.js";

type S3Send = S3Client["send"];

const LEFT_BEHIND =
  "a multipart upload could not be aborted in time; it is aborted in the background once the server answers";

/** What the store lends one put: its clients, its deadlines and the uploads it has in flight. */
export interface UploadContext {
  /** Retries what is safe to repeat (standard strategy, `maxAttempts`). */
  readonly client: S3Client;
  /** Sends once: for requests that must not be repeated once they may have reached the server. */
  readonly onceClient: S3Client;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly bucket: string;
  /** Multipart uploads this store started and has not finished, by full key. */
  readonly inflight: Map<string, Set<string>>;
  /** Retries in the background the clean-up that could not reach the server in time. */
  readonly janitor: Janitor;
}

/**
 * Sends a request that must not be repeated blindly (it creates something, or its repetition
 * answers differently): once, and again only when the server provably did not act on it.
 */
async function sendOnce<T>(
  context: UploadContext,
  signal: AbortSignal,
  send: (client: S3Client, options: { abortSignal: AbortSignal }) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(context.onceClient, { abortSignal: signal });
    } catch (error) {
      if (attempt >= context.maxAttempts || signal.aborted || !isWorthRetrying(error)) throw error;
      await pause(backoffMs(attempt), signal);
    }
  }
}

function backoffMs(attempt: number): number {
  return Math.random() * Math.min(2_000, 100 * 2 ** attempt);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * The client lib-storage drives for one put. Every request gets a deadline of its own
 * (`timeoutMs`, linked to the put's signal) and leaves as a taxonomy error. Creating and completing
 * the multipart upload are sent once, since repeating them after a lost reply would create a
 * second upload or report a finished one as missing; what happened is then asked of the server.
 * After the first failed part the others fail at once instead of each waiting for its deadline.
 */
export function uploadClient(
  context: UploadContext,
  key: string,
  caller: AbortSignal | undefined,
  what: string,
): {
  client: S3Client;
  release(): void;
  /** `error`, saying so when the upload's abort was left to the background. */
  withLeftovers(error: InfrastructureError): InfrastructureError;
} {
  const view: S3Client = Object.create(context.client);
  let failed: InfrastructureError | undefined;
  let abortLeftForLater = false;
  let created: string | undefined;
  const send = async (command: Parameters<S3Send>[0]) => {
    if (command instanceof AbortMultipartUploadCommand) {
      // The abort must reach the server even after the put's signal fired. When it cannot, the
      // put still reports why it failed, and the abort goes on in the background.
      const abort = (signal: AbortSignal) =>
        context.client.send(command, { abortSignal: signal }).then(
          () => undefined,
          (error: unknown) => {
            if (!isInfrastructureError(mapS3Error(error, what), "NOT_FOUND")) throw error;
          },
        );
      return await withDeadline(context.timeoutMs, undefined, `${what}: aborting the upload`, abort).catch(
        () => {
          context.janitor.later(`${what}: aborting the upload`, abort);
          abortLeftForLater = true;
          return {};
        },
      );
    }
    if (command instanceof UploadPartCommand && failed !== undefined) throw failed;
    const deadline = startDeadline(context.timeoutMs, caller, what);
    try {
      // Not raced against the deadline: the SDK stops at the signal, and a put must not settle
      // while the clean-up after a lost reply is still running.
      if (command instanceof CreateMultipartUploadCommand) {
        const output = await createUpload(context, key, command, deadline.signal, what);
        created = output.UploadId;
        return output;
      }
      if (command instanceof CompleteMultipartUploadCommand) {
        return await sendOnce(context, deadline.signal, (client, options) => client.send(command, options));
      }
      if (command instanceof PutObjectCommand && command.input.IfNoneMatch !== undefined) {
        return await deadline.settle(
          sendOnce(context, deadline.signal, (client, options) => client.send(command, options)),
        );
      }
      return await deadline.settle(context.client.send(command, { abortSignal: deadline.signal }));
    } catch (error) {
      const mapped = mapS3Error(error, what, deadline.signal);
      if (command instanceof CompleteMultipartUploadCommand && requestOutcome(error) === "unknown") {
        return await settleCompletion(context, key, command, mapped, caller, what);
      }
      if (command instanceof PutObjectCommand && command.input.IfNoneMatch !== undefined) {
        throw ambiguous(error, mapped, `${what}: the conditional write may or may not have been stored`);
      }
      if (command instanceof UploadPartCommand) failed ??= mapped;
      throw mapped;
    } finally {
      deadline.dispose();
    }
  };
  view.send = send as S3Send;
  return {
    client: view,
    release: () => releaseUpload(context, key, created),
    withLeftovers: (error) =>
      abortLeftForLater && error.details.leftBehind === undefined
        ? new InfrastructureError(error.code, error.message, {
            cause: error.cause,
            retryable: error.retryable,
            details: { ...error.details, leftBehind: LEFT_BEHIND },
          })
        : error,
  };
}

/** The mapped error, or an outcome-unknown one when the request may have been carried out. */
function ambiguous(raw: unknown, mapped: InfrastructureError, message: string): InfrastructureError {
  if (requestOutcome(raw) !== "unknown" || mapped.code === "CLOSED") return mapped;
  const code = mapped.code === "TIMEOUT" || mapped.code === "CANCELLED" ? mapped.code : "UNAVAILABLE";
  return outcomeUnknownError(code, message, { cause: raw, details: mapped.details });
}

/**
 * Creates the multipart upload and records it as this store's. When the reply is lost the server
 * may hold an upload nobody knows the id of: the uploads of this key that no put of this store
 * owns are aborted before the put fails, so a lost reply leaves nothing behind.
 */
async function createUpload(
  context: UploadContext,
  key: string,
  command: CreateMultipartUploadCommand,
  signal: AbortSignal,
  what: string,
): Promise<CreateMultipartUploadCommandOutput> {
  let output: CreateMultipartUploadCommandOutput;
  try {
    output = await sendOnce(context, signal, (client, options) => client.send(command, options));
  } catch (error) {
    const mapped = mapS3Error(error, what, signal);
    if (requestOutcome(error) !== "unknown") throw mapped;
    const cleanUp = async (signal: AbortSignal) => {
      await abortStrayUploads(context, key, signal);
    };
    const cleaned = await withDeadline(context.timeoutMs, undefined, `${what}: cleaning up`, cleanUp).then(
      () => true,
      () => false,
    );
    if (cleaned) throw mapped;
    context.janitor.later(`${what}: cleaning up`, cleanUp);
    throw new InfrastructureError(mapped.code, mapped.message, {
      cause: error,
      retryable: mapped.retryable,
      details: { ...mapped.details, leftBehind: LEFT_BEHIND },
    });
  }
  const uploadId = output.UploadId ?? "";
  const mine = context.inflight.get(key) ?? new Set<string>();
  mine.add(uploadId);
  context.inflight.set(key, mine);
  return output;
}

/** Forgets an upload once its put has ended, however it ended. */
function releaseUpload(context: UploadContext, key: string, uploadId: string | undefined): void {
  const mine = context.inflight.get(key);
  if (mine === undefined || uploadId === undefined) return;
  mine.delete(uploadId);
  if (mine.size === 0) context.inflight.delete(key);
}

/**
 * Aborts every multipart upload of exactly `key` (a full key, prefix included) that no put of this
 * store owns; resolves with how many it aborted.
 */
export async function abortStrayUploads(
  context: UploadContext,
  key: string,
  signal: AbortSignal,
): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const listing = await context.client.send(
      new ListMultipartUploadsCommand({
        Bucket: context.bucket,
        Prefix: key,
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
        ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
      }),
      { abortSignal: signal },
    );
    aborted += await abortListed(context, key, listing.Uploads ?? [], signal);
    if (!listing.IsTruncated || listing.NextKeyMarker === undefined) return aborted;
    keyMarker = listing.NextKeyMarker;
    uploadIdMarker = listing.NextUploadIdMarker;
  }
}

async function abortListed(
  context: UploadContext,
  key: string,
  uploads: readonly { Key?: string | undefined; UploadId?: string | undefined }[],
  signal: AbortSignal,
): Promise<number> {
  let aborted = 0;
  const mine = context.inflight.get(key);
  for (const upload of uploads) {
    if (upload.Key !== key || upload.UploadId === undefined || mine?.has(upload.UploadId)) continue;
    const done = await context.client
      .send(
        new AbortMultipartUploadCommand({ Bucket: context.bucket, Key: key, UploadId: upload.UploadId }),
        {
          abortSignal: signal,
        },
      )
      .then(
        () => true,
        (error: unknown) => {
          // Gone already (completed or aborted by its owner) is what was wanted.
          if (!isInfrastructureError(mapS3Error(error, "aborting a stray upload"), "NOT_FOUND")) throw error;
          return false;
        },
      );
    if (done) aborted++;
  }
  return aborted;
}

/**
 * After a lost `CompleteMultipartUpload` reply: asks the server whether the upload still exists.
 * Still there: the completion did not happen, so it is sent again (unless the put was cancelled). Gone while the object exists:
 * it completed (only this put knows the upload id). No answer within the deadline: the outcome is
 * unknown, and the put says so.
 */
async function settleCompletion(
  context: UploadContext,
  key: string,
  command: CompleteMultipartUploadCommand,
  original: InfrastructureError,
  caller: AbortSignal | undefined,
  what: string,
): Promise<CompleteMultipartUploadCommandOutput> {
  const { UploadId } = command.input;
  const checking = `${what}: checking whether the upload completed`;
  const isNotFound = (error: unknown) => isInfrastructureError(mapS3Error(error, checking), "NOT_FOUND");
  try {
    return await withDeadline(context.timeoutMs, undefined, checking, async (signal) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const uploadExists = await context.client
            .send(new ListPartsCommand({ Bucket: context.bucket, Key: key, UploadId, MaxParts: 1 }), {
              abortSignal: signal,
            })
            .then(
              () => true,
              (error: unknown) => {
                if (isNotFound(error)) return false;
                throw error;
              },
            );
          if (!uploadExists) {
            // A missing object here escapes the loop: nothing was stored.
            const head = await context.client.send(
              new HeadObjectCommand({ Bucket: context.bucket, Key: key }),
              { abortSignal: signal },
            );
            return { $metadata: head.$metadata, ETag: head.ETag, Bucket: context.bucket, Key: key };
          }
          // Not completed, and the caller gave up: the upload is aborted instead.
          if (caller?.aborted) throw original;
          return await sendOnce(context, signal, (client, options) => client.send(command, options));
        } catch (error) {
          if (error === original || signal.aborted) throw error;
          if (requestOutcome(error) !== "unknown" && !isNotFound(error)) throw error;
          if (isNotFound(error) && (error as { name?: string }).name !== "NoSuchUpload") throw error;
          await pause(backoffMs(attempt), signal);
        }
      }
    });
  } catch (error) {
    // The upload is gone and so is the object: something else aborted it; nothing was stored.
    if (error === original || isNotFound(error)) throw original;
    if (requestOutcome(error) !== "unknown") throw mapS3Error(error, what);
    throw outcomeUnknownError(
      original.code === "TIMEOUT" ? "TIMEOUT" : "UNAVAILABLE",
      `${what}: the object may or may not have been stored (the reply to completing the upload was lost)`,
      { cause: original, details: original.details },
    );
  }
}
