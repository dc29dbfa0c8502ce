import type { Closeable, JsonValue, OperationOptions, Page } from "./resources.js";

/**
 * Options of every `JobQueue` call that reaches a broker.
 */
export interface JobCallOptions extends OperationOptions {
  /**
   * Deadline of this call in milliseconds, replacing the adapter's documented default: a positive
   * integer, or `Infinity` for none. Past it the call fails with `TIMEOUT`.
   */
  timeoutMs?: number;
}

export interface EnqueueOptions extends JobCallOptions {
  /**
   * Makes the enqueue idempotent: a second `enqueue` on the same queue with the same key, within
   * the adapter's idempotency window (`capabilities.idempotencyWindowMs`, at least 24 hours by
   * default on every adapter), enqueues nothing and returns the first job's id with
   * `duplicate: true`, whatever its payload and whatever became of the first job. A non-empty
   * string of well-formed UTF-16, at most 256 UTF-8 bytes.
   */
  idempotencyKey?: string;
  /** The job is not delivered before this many milliseconds have passed (a non-negative integer). */
  delayMs?: number;
  /**
   * How many times the job may be handled in all, the first delivery included (a positive
   * integer, default `DEFAULT_MAX_ATTEMPTS`). A job whose last attempt fails goes to the queue's
   * dead letters.
   */
  maxAttempts?: number;
}

export interface EnqueueResult {
  /** The job's id: opaque, unique within the adapter's backend, usable with `cancel`. */
  id: string;
  /** True when the idempotency key matched an earlier job; `id` is then that job's id. */
  duplicate: boolean;
}

/** What a handler receives for one delivery of one job. */
export interface JobDelivery<P extends JsonValue = JsonValue> {
  id: string;
  queue: string;
  /** The payload as enqueued (a fresh copy: JSON in, JSON out). */
  payload: P;
  /** 1 for the first delivery, then 2, 3, … (redeliveries after a lost lease count too). */
  attempt: number;
  maxAttempts: number;
  /**
   * Fires when this delivery must stop: the lease was lost (another worker may now hold the job),
   * the job was cancelled, or the worker is closing and its deadline passed. Its `reason` is a
   * taxonomy error (`CANCELLED`, `CLOSED` or `UNAVAILABLE` for a lost lease). Pass it on to every
   * call the handler makes.
   */
  signal: AbortSignal;
}

/**
 * Handles one delivery. Resolving acknowledges the job (it is done and never delivered again).
 * Throwing fails this attempt: an error with `retryable === false` (a taxonomy error such as
 * `INVALID_ARGUMENT`, or any error the handler marks so) sends the job to the dead letters at once;
 * any other error retries it after a back-off (exponential, with full jitter) until `maxAttempts`
 * is used up, then sends it to the dead letters.
 */
export type JobHandler<P extends JsonValue = JsonValue> = (job: JobDelivery<P>) => Promise<void>;

/** Back-off between failed attempts: `min(maxMs, initialMs * 2^(attempt-1))`, fully jittered. */
export interface RetryBackoff {
  /** Positive integer, default 1,000. */
  initialMs?: number;
  /** Positive integer ≥ `initialMs`, default 300,000. */
  maxMs?: number;
}

export interface WorkOptions {
  /** Handlers running at once in this worker, a positive integer (default 1). */
  concurrency?: number;
  /**
   * How long a delivery stays leased to this worker without a sign of life, in milliseconds (a
   * positive integer ≥ 1,000, default 30,000). The worker renews the lease while the handler runs,
   * so a handler may run longer than this; if the worker dies (or cannot renew), the job is
   * delivered again, to any worker, within `leaseMs` of the last renewal.
   */
  leaseMs?: number;
  /** Back-off of retried attempts. */
  backoff?: RetryBackoff;
  /** Aborting it is `close()` with the default deadline. */
  signal?: AbortSignal;
}

export interface WorkerCloseOptions {
  /**
   * How long `close()` waits for running handlers, in milliseconds (default 30,000). At the
   * deadline their signals fire (reason `CLOSED`) and the jobs still running are released
   * unacknowledged, so they are delivered again (to another worker).
   */
  deadlineMs?: number;
}

/** A running consumer of one queue, returned by `JobQueue.work`. */
export interface JobWorker extends Closeable {
  readonly queue: string;
  /** Handlers running now. */
  readonly running: number;
  /**
   * Stops taking jobs, waits for running handlers up to the deadline, releases what still runs,
   * then resolves. Idempotent; every call resolves when the worker has stopped.
   */
  close(options?: WorkerCloseOptions): Promise<void>;
}

/** A job that used up its attempts (or failed with a non-retryable error). */
export interface DeadLetter<P extends JsonValue = JsonValue> {
  id: string;
  queue: string;
  payload: P;
  /** Attempts made. */
  attempts: number;
  /** The last attempt's error: its taxonomy `code` when it had one (else `"INTERNAL"`) and its message. */
  error: { code: string; message: string };
  /** When it was dead-lettered (milliseconds since the epoch). */
  failedAt: number;
}

export interface ListDeadLettersOptions extends JobCallOptions {
  /** Page size, 1–1,000 (default 100). */
  limit?: number;
  /** A `nextCursor` from the previous page. */
  after?: string;
}

export interface JobQueueCapabilities {
  /** Jobs survive the process and are shared between processes (every broker-backed adapter). */
  shared: boolean;
  /** How long an idempotency key is remembered after its first enqueue, in milliseconds. */
  idempotencyWindowMs: number;
  /** The largest payload accepted, in UTF-8 bytes of its JSON text. */
  maxPayloadBytes: number;
  /**
   * `cancel` is offered. `false` on an adapter configured without it (`@proj/queue-rabbitmq` with
   * `cancellation: false`, which then keeps no per-job state): `cancel` fails with `NOT_SUPPORTED`
   * after checking its arguments, and changes nothing. Absent means `true`.
   */
  cancel?: boolean;
}

/**
 * Background jobs on a broker: `enqueue` here, `work` in any number of processes.
 *
 * Contract:
 * - **At least once.** Every enqueued job is handled to success, cancelled, or dead-lettered; none
 *   is lost while the broker keeps its data. A job may be delivered more than once (a worker died,
 *   a lease ran out, an acknowledgement was lost), so a handler must be idempotent. The way to an
 *   exactly-once *effect*: key the effect by the job (`enqueue` with an `idempotencyKey` derived
 *   from the business id, and in the handler a conditional write: `INSERT … ON CONFLICT DO
 *   NOTHING`, a `version` check, or an object put with `ifNoneMatch`), so a second delivery finds
 *   the work done.
 * - **No order.** Jobs may be delivered in any order, delayed jobs and retries included.
 * - **Queues** are named by `validateQueueName` (1–64 characters of `A–Z a–z 0–9 _ -`, starting
 *   with a letter or digit); any other name is `INVALID_ARGUMENT`. A queue exists once used.
 * - **Payloads** are JSON values (`validateJobPayload`): `undefined`, functions, symbols, bigints,
 *   non-finite numbers, lone surrogates and cycles are `INVALID_ARGUMENT`; a payload whose JSON text
 *   is larger than `capabilities.maxPayloadBytes` is `RESOURCE_EXHAUSTED` (not retryable). The
 *   handler gets a value equal to the one enqueued.
 * - **Idempotency**: see `EnqueueOptions.idempotencyKey`. Two concurrent enqueues with one key
 *   create one job; exactly one of them returns `duplicate: false`.
 * - **Delay** (`delayMs`) holds a job back at least that long; it is delivered soon after (within
 *   the adapter's documented polling or timer resolution, at most a second).
 * - **Concurrency**: one worker never runs more than `concurrency` handlers at once.
 * - **Retry**: a failed attempt is retried after the back-off (`RetryBackoff`), as a new delivery
 *   with `attempt + 1`; after `maxAttempts`, or at once for a non-retryable error, the job becomes a
 *   `DeadLetter`, listed by `listDeadLetters` and put back by `redrive` (a fresh set of attempts).
 * - **Leases**: a worker that dies (SIGKILL) loses its leases; its jobs are delivered again within
 *   `leaseMs` (plus the adapter's documented resolution). A handler whose lease is lost sees its
 *   `signal` fire.
 * - **Cancel** (unless `capabilities.cancel` is `false`): `cancel(id)` returns `true` when the job was waiting (queued, delayed or between
 *   attempts) or running: it is then never delivered again, and a running handler's `signal`
 *   fires (within `leaseMs`). It returns `false` for an unknown, finished, dead-lettered or already
 *   cancelled job.
 * - **Close**: `JobWorker.close()` stops taking jobs and waits for running ones up to its
 *   deadline; `JobQueue.close()` closes every worker it started, then the connections. After
 *   `close()`, every call is `CLOSED`.
 * - **Failures**: a broker that cannot be reached is `UNAVAILABLE` or `TIMEOUT`, within the call's
 *   deadline; an `enqueue` whose reply was lost fails with `details.outcome: "unknown"` (retry it
 *   with the same `idempotencyKey` to be safe). A worker rides out a broker outage: it keeps
 *   trying to reconnect and takes jobs again when the broker is back, without being restarted.
 */
export interface JobQueue extends Closeable {
  readonly capabilities: JobQueueCapabilities;
  enqueue(queue: string, payload: JsonValue, options?: EnqueueOptions): Promise<EnqueueResult>;
  work<P extends JsonValue = JsonValue>(
    queue: string,
    handler: JobHandler<P>,
    options?: WorkOptions,
  ): JobWorker;
  cancel(id: string, options?: JobCallOptions): Promise<boolean>;
  listDeadLetters(queue: string, options?: ListDeadLettersOptions): Promise<Page<DeadLetter>>;
  /**
   * Puts a dead letter back on its queue with a fresh set of attempts (its `maxAttempts` as first
   * enqueued) and removes it from the dead letters. `false` when no such dead letter exists.
   */
  redrive(id: string, options?: JobCallOptions): Promise<boolean>;
}
