import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import { cancelledError, InfrastructureError, isInfrastructureError } from "@proj/ports";
import { isNoResponders, mapApiError } from "./map-nats-error.js";
import type { QueueNames } from "./names.js";
import { type Deadline, type Describe, type NatsLink, startDeadline } from "./nats-link.js";

/** Header of a job message: how many attempts the job may use; absent for the port's default. */
export const MAX_ATTEMPTS_HEADER = "Job-Max-Attempts";
/** Header of a delayed job message: not to be run before this time (ms since the epoch). */
export const NOT_BEFORE_HEADER = "Job-Not-Before";
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** How long the dead-letter streams remember a dead letter's message id (a retried move is one move). */
const DEAD_DUPLICATE_WINDOW_MS = 10 * 60 * 1000;

/** Stream settings every queue of an adapter gets. */
export interface StreamSettings {
  storage: "file" | "memory";
  replicas: number;
  idempotencyWindowMs: number;
  maxJobs: number;
  maxBytes: number;
  maxAckPending: number;
  deadLetterMaxAgeMs: number;
}

/** A stored message as `STREAM.MSG.GET` returns it. */
export interface StoredMessage {
  subject: string;
  seq: number;
  /** Base64. */
  data?: string;
  /** Base64 of the header block. */
  hdrs?: string;
  time: string;
}

/** The reply to a JetStream publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

function ns(ms: number): number {
  return ms * 1_000_000;
}

export function jobsStreamConfig(names: QueueNames, settings: StreamSettings): Record<string, unknown> {
  return {
    name: names.jobsStream,
    subjects: [names.subject, names.redriveWildcard],
    retention: RetentionPolicy.Workqueue,
    storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: settings.replicas,
    // A full queue refuses new jobs rather than dropping queued ones.
    discard: DiscardPolicy.New,
    max_msgs: settings.maxJobs,
    max_bytes: settings.maxBytes,
    max_age: 0,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    max_consumers: -1,
    duplicate_window: ns(settings.idempotencyWindowMs),
  };
}

export function deadStreamConfig(names: QueueNames, settings: StreamSettings): Record<string, unknown> {
  const maxAge = settings.deadLetterMaxAgeMs;
  return {
    name: names.deadStream,
    subjects: [names.deadWildcard],
    retention: RetentionPolicy.Limits,
    storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: settings.replicas,
    discard: DiscardPolicy.Old,
    max_msgs: -1,
    max_bytes: -1,
    max_age: ns(maxAge),
    // One dead letter per job: moving a job twice (a retried move) keeps one.
    max_msgs_per_subject: 1,
    max_msg_size: -1,
    max_consumers: -1,
    duplicate_window: ns(maxAge > 0 ? Math.min(maxAge, DEAD_DUPLICATE_WINDOW_MS) : DEAD_DUPLICATE_WINDOW_MS),
  };
}

export function consumerConfig(
  names: QueueNames,
  leaseMs: number,
  settings: StreamSettings,
): Record<string, unknown> {
  return {
    stream_name: names.jobsStream,
    config: {
      durable_name: names.consumer,
      ack_policy: AckPolicy.Explicit,
      // The lease: a delivery not acknowledged, renewed (+WPI) or released within it is redelivered.
      ack_wait: ns(leaseMs),
      // Attempts are counted and ended by the workers (dead letters), not by the server.
      max_deliver: -1,
      // Running, delayed and retrying jobs of the queue, all workers together.
      max_ack_pending: settings.maxAckPending,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
    },
  };
}

/**
 * The JetStream calls of the adapter, each under a deadline. Creating a stream that exists with
 * the same settings is a no-op; with other settings (another adapter configured differently), the
 * stream is updated to these: the last adapter to create a queue sets its streams' limits.
 */
export class JetStreamCalls {
  readonly #link: NatsLink;
  readonly #defaultTimeoutMs: number;
  /** Stream creations in flight, by stream name: many callers finding a stream missing send one. */
  readonly #creating = new Map<string, Promise<void>>();

  constructor(link: NatsLink, defaultTimeoutMs: number) {
    this.#link = link;
    this.#defaultTimeoutMs = defaultTimeoutMs;
  }

  /** Makes the stream exist with `config`, once for all concurrent callers; each waits within its own deadline. */
  ensureStream(
    config: Record<string, unknown>,
    deadline: Deadline,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const name = config.name as string;
    let creating = this.#creating.get(name);
    if (creating === undefined) {
      creating = this.#createStream(name, config).finally(() => this.#creating.delete(name));
      this.#creating.set(name, creating);
    }
    return withinDeadline(creating, deadline, signal, () => `creating stream ${name}`);
  }

  async #createStream(name: string, config: Record<string, unknown>): Promise<void> {
    const deadline = startDeadline(this.#defaultTimeoutMs);
    const describe = () => `creating stream ${name}`;
    try {
      await this.#link.api(`$JS.API.STREAM.CREATE.${name}`, config, deadline, undefined, true, describe);
    } catch (error) {
      if (!(isInfrastructureError(error, "CONFLICT") && error.details.natsErrCode === 10058)) throw error;
      await this.#link.api(
        `$JS.API.STREAM.UPDATE.${name}`,
        config,
        deadline,
        undefined,
        true,
        () => `updating stream ${name}`,
      );
    }
  }

  async ensureConsumer(
    names: QueueNames,
    config: Record<string, unknown>,
    deadline: Deadline,
  ): Promise<void> {
    await this.#link.api(
      `$JS.API.CONSUMER.CREATE.${names.jobsStream}.${names.consumer}`,
      config,
      deadline,
      undefined,
      true,
      () => `creating consumer ${names.consumer} of stream ${names.jobsStream}`,
    );
  }

  /** Publishes to a stream and waits for its acknowledgement. */
  async publish(
    subject: string,
    data: string,
    headers: MsgHdrs | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    describe: Describe,
  ): Promise<PubAck> {
    const reply = await this.#link.request(subject, data, headers, deadline, signal, true, describe);
    return parsePubAck(reply.string(), describe);
  }

  /**
   * Publishes to a queue's stream, making the stream first if nothing answered (a publish that no
   * stream took was not stored, so sending it again is safe).
   */
  async publishTo(
    stream: () => Record<string, unknown>,
    subject: string,
    data: string,
    headers: MsgHdrs | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    describe: Describe,
  ): Promise<PubAck> {
    try {
      return await this.publish(subject, data, headers, deadline, signal, describe);
    } catch (error) {
      if (!isNoResponders(error)) throw error;
    }
    await this.ensureStream(stream(), deadline, signal);
    return this.publish(subject, data, headers, deadline, signal, describe);
  }

  /** A stored message, or undefined when the message (or its stream) does not exist. */
  async getMessage(
    stream: string,
    request: { seq?: number; last_by_subj?: string; next_by_subj?: string },
    deadline: Deadline,
    signal: AbortSignal | undefined,
    describe: Describe,
  ): Promise<StoredMessage | undefined> {
    try {
      const reply = await this.#link.api<{ message: StoredMessage }>(
        `$JS.API.STREAM.MSG.GET.${stream}`,
        request,
        deadline,
        signal,
        false,
        describe,
      );
      return reply.message;
    } catch (error) {
      if (isInfrastructureError(error, "NOT_FOUND")) return undefined;
      throw error;
    }
  }

  /** Deletes a stored message; false when it (or its stream) was not there. */
  async deleteMessage(
    stream: string,
    seq: number,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    describe: Describe,
  ): Promise<boolean> {
    try {
      const reply = await this.#link.api<{ success?: boolean }>(
        `$JS.API.STREAM.MSG.DELETE.${stream}`,
        { seq, no_erase: true },
        deadline,
        signal,
        true,
        describe,
      );
      return reply.success === true;
    } catch (error) {
      if (isInfrastructureError(error, "NOT_FOUND")) return false;
      throw error;
    }
  }

  /** Deletes a stream; false when there was none. */
  async deleteStream(stream: string, deadline: Deadline, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.#link.api(
        `$JS.API.STREAM.DELETE.${stream}`,
        undefined,
        deadline,
        signal,
        true,
        () => `deleting stream ${stream}`,
      );
      return true;
    } catch (error) {
      if (isInfrastructureError(error, "NOT_FOUND")) return false;
      throw error;
    }
  }
}

function parsePubAck(text: string, describe: Describe): PubAck {
  let reply: Partial<PubAck> & { error?: { code: number; err_code?: number; description?: string } };
  try {
    reply = JSON.parse(text);
  } catch (cause) {
    throw new InfrastructureError("INTERNAL", `${describe()} failed: the acknowledgement is not JSON`, {
      cause,
    });
  }
  if (reply.error !== undefined) throw mapApiError(reply.error, describe());
  if (typeof reply.seq !== "number" || !Number.isSafeInteger(reply.seq) || reply.seq < 1) {
    throw new InfrastructureError("INTERNAL", `${describe()} failed: the acknowledgement has no sequence`);
  }
  return reply as PubAck;
}

/** Waits for `work` within the caller's deadline and signal, leaving `work` to finish for others. */
export function withinDeadline<T>(
  work: Promise<T>,
  deadline: Deadline,
  signal: AbortSignal | undefined,
  describe: Describe,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(cancelledError(signal, describe()));
  const remaining = deadline.at - performance.now();
  if (remaining === Number.POSITIVE_INFINITY && signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => reject(cancelledError(signal!, describe()));
    if (remaining !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(
        () =>
          reject(
            new InfrastructureError("TIMEOUT", `${describe()} took longer than ${deadline.timeoutMs} ms`),
          ),
        Math.max(0, Math.min(2_147_483_647, remaining)),
      );
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    });
  });
}

/** A fresh header block. */
export function jobHeaders(): MsgHdrs {
  return natsHeaders();
}
