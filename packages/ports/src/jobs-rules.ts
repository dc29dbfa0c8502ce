import { cancelledError, InfrastructureError, isInfrastructureError } from "./errors.js";
import type { EnqueueOptions, ListDeadLettersOptions, RetryBackoff, WorkOptions } from "./jobs.js";
import { utf8ByteLength } from "./object-storage-rules.js";
import type { JsonValue } from "./resources.js";

/**
 * The `JobQueue` contract's rules as code, so every adapter refuses the same input with the same
 * error before any I/O and computes the same back-off.
 */

/** Attempts of a job enqueued without `maxAttempts`. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Lease of a worker started without `leaseMs`. */
export const DEFAULT_LEASE_MS = 30_000;
/** The smallest `leaseMs` accepted: renewals need room to travel. */
export const MIN_LEASE_MS = 1_000;
/** Largest payload (UTF-8 bytes of its JSON text) unless an adapter documents a smaller one. */
export const DEFAULT_MAX_JOB_PAYLOAD_BYTES = 256 * 1024;
/** How long idempotency keys are remembered unless configured otherwise. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** `JobWorker.close()` deadline when none is given. */
export const DEFAULT_WORKER_CLOSE_DEADLINE_MS = 30_000;
/** Back-off when a worker names none. */
export const DEFAULT_RETRY_BACKOFF: Required<RetryBackoff> = { initialMs: 1_000, maxMs: 300_000 };
/** Largest idempotency key, in UTF-8 bytes. */
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** Throws `INVALID_ARGUMENT` unless `queue` is 1–64 of `A–Z a–z 0–9 _ -`, starting with a letter or digit. */
export function validateQueueName(queue: unknown): asserts queue is string {
  if (typeof queue !== "string" || !QUEUE_NAME.test(queue)) {
    throw invalid(
      `queue name must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit, got ${
        typeof queue === "string" ? JSON.stringify(queue.slice(0, 80)) : typeof queue
      }`,
    );
  }
}

interface WellFormedCheck {
  isWellFormed(): boolean;
}

/**
 * Why a payload is no JSON value, and where: the path's segments are added innermost first as the
 * error passes back up, so a payload that passes costs no path strings at all.
 */
class PayloadFault {
  readonly segments: string[] = [];
  constructor(readonly problem: string) {}

  at(path: string): InfrastructureError {
    return invalid(`job payload ${path}${this.segments.reverse().join("")} ${this.problem}`);
  }
}

/** Ancestors are tracked only past this depth (see `jsonTextBound`); a cycle always gets deeper. */
const UNTRACKED_DEPTH = 64;
/** The longest JSON text of a finite number: sign, 17 digits, point, `e-` and 3 digits. */
const MAX_NUMBER_TEXT = 24;
/** At most 6 characters per UTF-16 unit (`\u001f`), each 1 byte; or 3 bytes for a unit left as is. */
const MAX_BYTES_PER_UNIT = 6;

/**
 * Throws a `PayloadFault` unless `value` is a JSON value that comes back equal, and returns an upper
 * bound of the UTF-8 bytes of its JSON text: a payload within the limit by this bound needs no JSON
 * text to be sized.
 *
 * Without `ancestors`, it tracks none and returns -1 past `UNTRACKED_DEPTH`; the caller then walks
 * again with a set of them, which finds a cycle and names it where it closes. Most payloads are
 * shallow, and checking them costs no set.
 */
function jsonTextBound(value: unknown, depth: number, ancestors: Set<object> | undefined): number {
  switch (typeof value) {
    case "string":
      if (!(value as unknown as WellFormedCheck).isWellFormed()) {
        throw new PayloadFault("holds a lone surrogate (not valid Unicode)");
      }
      return value.length * MAX_BYTES_PER_UNIT + 2;
    case "boolean":
      return 5;
    case "number":
      if (!Number.isFinite(value)) throw new PayloadFault(`is ${String(value)}, not a JSON number`);
      return MAX_NUMBER_TEXT;
    case "object": {
      if (value === null) return 4;
      if (ancestors === undefined) {
        if (depth === UNTRACKED_DEPTH) return -1;
      } else {
        if (ancestors.has(value)) throw new PayloadFault("is a cycle");
        ancestors.add(value);
      }
      // Brackets, and a comma or colon counted for every item.
      let bound = 2;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          let item: number;
          try {
            item = jsonTextBound(value[i], depth + 1, ancestors);
          } catch (fault) {
            if (fault instanceof PayloadFault) fault.segments.push(`[${i}]`);
            throw fault;
          }
          if (item < 0) return -1;
          bound += item + 1;
        }
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          throw new PayloadFault(`is a ${proto?.constructor?.name ?? "class instance"}, not a plain object`);
        }
        for (const key of Object.keys(value)) {
          if (!(key as unknown as WellFormedCheck).isWellFormed()) {
            throw new PayloadFault("has a key with a lone surrogate");
          }
          let item: number;
          try {
            item = jsonTextBound((value as Record<string, unknown>)[key], depth + 1, ancestors);
          } catch (fault) {
            if (fault instanceof PayloadFault) fault.segments.push(`.${key}`);
            throw fault;
          }
          if (item < 0) return -1;
          bound += key.length * MAX_BYTES_PER_UNIT + 2 + item + 2;
        }
      }
      ancestors?.delete(value);
      return bound;
    }
    default:
      throw new PayloadFault(`is ${typeof value}, not a JSON value`);
  }
}

/** Throws `INVALID_ARGUMENT` unless `payload` is a JSON value; returns `jsonTextBound`'s bound. */
function checkPayload(payload: unknown): number {
  try {
    const bound = jsonTextBound(payload, 0, undefined);
    return bound >= 0 ? bound : jsonTextBound(payload, 0, new Set());
  } catch (fault) {
    throw fault instanceof PayloadFault ? fault.at("$") : fault;
  }
}

function checkSize(text: string, maxBytes: number): void {
  // Cheap bound first: a UTF-8 byte count is at most 3 per UTF-16 code unit.
  const bytes = text.length * 3 <= maxBytes ? text.length : utf8ByteLength(text);
  if (bytes > maxBytes) {
    throw new InfrastructureError(
      "RESOURCE_EXHAUSTED",
      `job payload is ${bytes} bytes of JSON, more than the limit of ${maxBytes}`,
      { retryable: false, details: { bytes, limit: maxBytes } },
    );
  }
}

/**
 * Checks that `payload` is a JSON value that comes back equal (see the `JobQueue` contract) and
 * returns its JSON text. Throws `INVALID_ARGUMENT` for anything else and `RESOURCE_EXHAUSTED` (not
 * retryable) when the text is larger than `maxBytes` UTF-8 bytes.
 */
export function encodeJobPayload(payload: unknown, maxBytes: number = DEFAULT_MAX_JOB_PAYLOAD_BYTES): string {
  const bound = checkPayload(payload);
  const text = JSON.stringify(payload);
  if (bound > maxBytes) checkSize(text, maxBytes);
  return text;
}

/**
 * Checks `payload` as `encodeJobPayload` does, for an adapter whose client encodes it: makes its
 * JSON text only when a bound on its size is over `maxBytes`.
 */
export function checkJobPayload(payload: unknown, maxBytes: number = DEFAULT_MAX_JOB_PAYLOAD_BYTES): void {
  if (checkPayload(payload) > maxBytes) checkSize(JSON.stringify(payload), maxBytes);
}

/** Checks a call's `timeoutMs` and `signal`; returns the deadline to apply. */
export function validateJobCallOptions(
  options: { timeoutMs?: number; signal?: AbortSignal },
  defaultMs: number,
  what: string,
): number {
  const { timeoutMs, signal } = options;
  if (signal?.aborted) throw cancelledError(signal, what);
  if (timeoutMs === undefined) return defaultMs;
  if (timeoutMs !== Number.POSITIVE_INFINITY && !isPositiveInteger(timeoutMs)) {
    throw invalid(
      `timeoutMs must be a positive integer of milliseconds or Infinity, got ${String(timeoutMs)}`,
    );
  }
  return timeoutMs;
}

/** `enqueue`'s options, checked and with defaults applied. */
export interface ValidEnqueueOptions {
  idempotencyKey: string | undefined;
  delayMs: number;
  maxAttempts: number;
}

/** Throws `INVALID_ARGUMENT` for an idempotency key, delay or attempt count the contract refuses. */
export function validateEnqueueOptions(options: EnqueueOptions): ValidEnqueueOptions {
  const { idempotencyKey, delayMs = 0, maxAttempts = DEFAULT_MAX_ATTEMPTS } = options;
  if (idempotencyKey !== undefined) {
    if (typeof idempotencyKey !== "string" || idempotencyKey === "") {
      throw invalid("idempotencyKey must be a non-empty string");
    }
    if (!(idempotencyKey as unknown as WellFormedCheck).isWellFormed()) {
      throw invalid("idempotencyKey holds a lone surrogate (not valid Unicode)");
    }
    if (utf8ByteLength(idempotencyKey) > MAX_IDEMPOTENCY_KEY_BYTES) {
      throw invalid(`idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY_BYTES} UTF-8 bytes`);
    }
  }
  if (!(typeof delayMs === "number" && Number.isSafeInteger(delayMs) && delayMs >= 0)) {
    throw invalid(`delayMs must be a non-negative integer of milliseconds, got ${String(delayMs)}`);
  }
  if (!isPositiveInteger(maxAttempts) || maxAttempts > 1_000) {
    throw invalid(`maxAttempts must be an integer from 1 to 1000, got ${String(maxAttempts)}`);
  }
  return { idempotencyKey, delayMs, maxAttempts };
}

/** `work`'s options, checked and with defaults applied. */
export interface ValidWorkOptions {
  concurrency: number;
  leaseMs: number;
  backoff: Required<RetryBackoff>;
  signal: AbortSignal | undefined;
}

/** Throws `INVALID_ARGUMENT` for a concurrency, lease or back-off the contract refuses. */
export function validateWorkOptions(options: WorkOptions): ValidWorkOptions {
  const { concurrency = 1, leaseMs = DEFAULT_LEASE_MS, backoff = {}, signal } = options;
  if (!isPositiveInteger(concurrency) || concurrency > 10_000) {
    throw invalid(`concurrency must be an integer from 1 to 10000, got ${String(concurrency)}`);
  }
  if (!isPositiveInteger(leaseMs) || leaseMs < MIN_LEASE_MS) {
    throw invalid(`leaseMs must be an integer of at least ${MIN_LEASE_MS}, got ${String(leaseMs)}`);
  }
  const initialMs = backoff.initialMs ?? DEFAULT_RETRY_BACKOFF.initialMs;
  const maxMs = backoff.maxMs ?? Math.max(DEFAULT_RETRY_BACKOFF.maxMs, initialMs);
  if (!isPositiveInteger(initialMs) || !isPositiveInteger(maxMs) || maxMs < initialMs) {
    throw invalid(
      `backoff must have positive integer initialMs <= maxMs, got ${String(initialMs)} and ${String(maxMs)}`,
    );
  }
  return { concurrency, leaseMs, backoff: { initialMs, maxMs }, signal };
}

/** Checks `listDeadLetters`' page size; returns it with the default applied. */
export function validateDeadLetterPageSize(options: ListDeadLettersOptions): number {
  const { limit = 100 } = options;
  if (!isPositiveInteger(limit) || limit > 1_000) {
    throw invalid(`limit must be an integer from 1 to 1000, got ${String(limit)}`);
  }
  return limit;
}

/**
 * The delay before attempt `failedAttempt + 1`: full jitter over
 * `min(maxMs, initialMs * 2^(failedAttempt-1))`, never less than 1 ms. `random` returns [0, 1).
 */
export function retryDelayMs(
  failedAttempt: number,
  backoff: Required<RetryBackoff>,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failedAttempt - 1, 0), 52);
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  return Math.max(1, Math.floor(random() * ceiling));
}

/**
 * Whether a handler's error ends the job at once (dead letter) rather than retrying: true for an
 * error with `retryable === false` (every non-retryable taxonomy error included), false for
 * anything else.
 */
export function isFinalJobError(error: unknown): boolean {
  return (
    typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === false
  );
}

/** The `{ code, message }` a dead letter records for a handler's error (messages cut to 1,000 characters). */
export function summarizeJobError(error: unknown): { code: string; message: string } {
  const code = isInfrastructureError(error) ? error.code : "INTERNAL";
  const raw = error instanceof Error ? error.message : String(error);
  return { code, message: raw.length > 1_000 ? `${raw.slice(0, 999)}…` : raw };
}

/** Parses and re-checks a payload read back from a broker; `INTERNAL` when it is not JSON. */
export function decodeJobPayload(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (cause) {
    throw new InfrastructureError("INTERNAL", "a job payload read from the broker is not JSON", { cause });
  }
}
