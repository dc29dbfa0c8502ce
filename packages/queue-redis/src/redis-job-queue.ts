import { randomUUID } from "node:crypto";
import {
  checkJobPayload,
  closedError,
  DEFAULT_IDEMPOTENCY_WINDOW_MS,
  DEFAULT_MAX_JOB_PAYLOAD_BYTES,
  type DeadLetter,
  type EnqueueOptions,
  type EnqueueResult,
  InfrastructureError,
  type JobCallOptions,
  type JobHandler,
  type JobQueue,
  type JobQueueCapabilities,
  type JobWorker,
  type JsonValue,
  type ListDeadLettersOptions,
  type Page,
  validateDeadLetterPageSize,
  validateEnqueueOptions,
  validateJobCallOptions,
  validateQueueName,
  validateWorkOptions,
  type WorkOptions,
} from "@proj/ports";
import { type Job, type JobsOptions, Queue } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import {
  CANCELLED_DEDUP_SUFFIX,
  type DeadLetterCursor,
  decodeCursor,
  decodeFailure,
  decodeJobId,
  encodeCursor,
  encodeJobId,
  jobIdOfDedupValue,
} from "./encoding.js";
import { bounded, type Deadline, RedisCalls, reconnectDelay, startDeadline } from "./redis-calls.js";
import { mapRedisError } from "./redis-errors.js";
import { BACKOFF_TYPE, RedisJobWorker } from "./redis-job-worker.js";

export interface RedisJobQueueOptions {
  /**
   * The key prefix of every queue (BullMQ's `prefix`): a queue's keys are `<namespace>:<queue>:…`.
   * Processes that share jobs use the same namespace. 1–64 of `A–Z a–z 0–9 _ - .`. Default
   * `"proj-jobs"`.
   */
  namespace?: string;
  /** `redis://[user:password@]host:port/db`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * ioredis options for every connection (TLS, password, db, …), applied over the adapter's
   * defaults; the options the adapter's failure handling relies on stay as the README lists them.
   */
  redis?: RedisOptions;
  /**
   * Default deadline of `enqueue`, `cancel`, `listDeadLetters`, `redrive`, and of the worker's own
   * calls (release, cancel check), waiting for a connection included. Default 10,000;
   * `Infinity` for none.
   */
  timeoutMs?: number;
  /** How long an idempotency key is remembered after its first enqueue. Default 24 hours. */
  idempotencyWindowMs?: number;
  /** The largest payload accepted, in UTF-8 bytes of its JSON text. Default 256 KiB. */
  maxPayloadBytes?: number;
  /** Told about errors that happen outside any call: connection errors, BullMQ worker errors. */
  onError?: (error: InfrastructureError) => void;
}

const WHAT = "Redis job queue";
const DEFAULT_TIMEOUT_MS = 10_000;
const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/;
/** BullMQ's job name: every job of a queue is the same kind here. */
const JOB_NAME = "job";
/** Every job names the adapter's back-off strategy (the worker's `backoffStrategy`). */
const BACKOFF = Object.freeze({ type: BACKOFF_TYPE });
/** The options of a call made without any. */
const NO_OPTIONS: EnqueueOptions = Object.freeze({});
/** How long a cancel mark stays, so a cancelled running job is not handled again if redelivered. */
const CANCEL_MARK_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Marks a job cancelled, atomically with the checks (Redis runs a script alone). Returns 0 when
 * the job is unknown, finished or dead-lettered (or was cancelled while running), 1 when it was
 * waiting (the caller then removes it), 2 when it runs (its worker sees the mark at its next lease
 * renewal), 3 when it was already cancelled but is still waiting (an earlier cancel did not get to
 * remove it). The job's idempotency key keeps pointing at it: BullMQ forgets the key of a job it
 * removes only when the key still holds the bare job id.
 */
const CANCEL_SCRIPT = `
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
if redis.call("ZSCORE", KEYS[4], ARGV[1]) or redis.call("ZSCORE", KEYS[3], ARGV[1]) then return 0 end
local locked = redis.call("EXISTS", KEYS[2]) == 1
if not redis.call("SET", KEYS[5], "1", "PX", ARGV[2], "NX") then
  if locked then return 0 end
  return 3
end
local deid = redis.call("HGET", KEYS[1], "deid")
if deid then
  local dedupKey = ARGV[3] .. deid
  if redis.call("GET", dedupKey) == ARGV[1] then
    redis.call("SET", dedupKey, ARGV[1] .. ARGV[4], "KEEPTTL")
  end
end
if locked then return 2 end
return 1
`;

interface CancelCommand {
  projCancelJob(...args: (string | number)[]): Promise<number>;
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(typeof value === "number" && Number.isSafeInteger(value) && value > 0)) {
    throw invalid(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function checkTimeout(value: number | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (value === Number.POSITIVE_INFINITY) return value;
  return positiveInteger(value, DEFAULT_TIMEOUT_MS, "timeoutMs");
}

/**
 * `JobQueue` over Redis with BullMQ. `enqueue` adds a BullMQ job (the idempotency key is BullMQ's
 * deduplication id, kept for the idempotency window); `work` runs a BullMQ `Worker` on a
 * connection of its own; dead letters are BullMQ's failed jobs.
 */
export class RedisJobQueue implements JobQueue {
  readonly capabilities: JobQueueCapabilities;
  /** The key prefix of every queue. */
  readonly namespace: string;
  /** The ioredis client of `enqueue`, `cancel`, `listDeadLetters` and `redrive`. Closing the queue quits it. */
  readonly client: Redis;

  readonly #url: string;
  readonly #redis: RedisOptions | undefined;
  readonly #timeoutMs: number;
  readonly #onError: ((error: InfrastructureError) => void) | undefined;
  readonly #calls: RedisCalls;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Set<RedisJobWorker<never>>();
  #closing: Promise<void> | undefined;

  constructor(options: RedisJobQueueOptions = {}) {
    const namespace = options.namespace ?? "proj-jobs";
    if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
      throw invalid(`namespace must be 1-64 of A-Z a-z 0-9 _ - ., got ${JSON.stringify(namespace)}`);
    }
    this.namespace = namespace;
    this.#timeoutMs = checkTimeout(options.timeoutMs);
    this.capabilities = Object.freeze({
      shared: true,
      idempotencyWindowMs: positiveInteger(
        options.idempotencyWindowMs,
        DEFAULT_IDEMPOTENCY_WINDOW_MS,
        "idempotencyWindowMs",
      ),
      maxPayloadBytes: positiveInteger(
        options.maxPayloadBytes,
        DEFAULT_MAX_JOB_PAYLOAD_BYTES,
        "maxPayloadBytes",
      ),
    });
    this.#url = options.url ?? "redis://127.0.0.1:6379";
    this.#redis = options.redis;
    this.#onError = options.onError;
    const finite = Number.isFinite(this.#timeoutMs);
    const connectMs = finite ? Math.min(Math.max(this.#timeoutMs, 1_000), 10_000) : 10_000;
    this.client = new Redis(this.#url, {
      connectionName: `${namespace}:producer`,
      connectTimeout: connectMs,
      retryStrategy: (attempt) => reconnectDelay(attempt),
      ...options.redis,
      // Commands are written only on a ready connection (RedisCalls waits for one within the call's
      // deadline), never queued nor resent on a new one, and fail as soon as their connection
      // closes: a resent enqueue could land after its caller was told it failed.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // RedisCalls drops a connection that answered nothing for a whole call's deadline; with no
      // deadline, ioredis destroys one that leaves due replies unanswered for 30 s.
      socketTimeout: finite ? undefined : 30_000,
      keyPrefix: undefined,
    });
    this.client.defineCommand("projCancelJob", { numberOfKeys: 5, lua: CANCEL_SCRIPT });
    this.#calls = new RedisCalls(this.client, options.onError, connectMs);
  }

  async enqueue(
    queue: string,
    payload: JsonValue,
    options: EnqueueOptions = NO_OPTIONS,
  ): Promise<EnqueueResult> {
    this.#ensureOpen();
    // A queue already in use had its name checked then.
    const known = this.#queues.get(queue);
    if (known === undefined) validateQueueName(queue);
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "enqueue");
    const { idempotencyKey, delayMs, maxAttempts } = validateEnqueueOptions(options);
    checkJobPayload(payload, this.capabilities.maxPayloadBytes);
    const jobOptions: JobsOptions = {
      attempts: maxAttempts,
      backoff: BACKOFF,
      removeOnComplete: true,
      stackTraceLimit: 0,
    };
    if (delayMs > 0) jobOptions.delay = delayMs;
    // Without a key, BullMQ numbers the job (its per-queue counter). With one, the job gets a UUID of
    // this call's making: BullMQ answers with the id of the job that holds the key, so an answer
    // that is not this UUID means the key was taken.
    let bullId: string | undefined;
    if (idempotencyKey !== undefined) {
      bullId = randomUUID();
      jobOptions.jobId = bullId;
      jobOptions.deduplication = { id: idempotencyKey, ttl: this.capabilities.idempotencyWindowMs };
    }
    const bull = known ?? this.#queue(queue);
    const job = await this.#calls.run(
      () => `enqueue on queue "${queue}"`,
      true,
      startDeadline(timeoutMs),
      options.signal,
      () => bull.add(JOB_NAME, payload, jobOptions),
    );
    const heldBy = job.id ?? "";
    if (bullId === undefined || heldBy === bullId)
      return { id: encodeJobId(queue, heldBy), duplicate: false };
    return { id: encodeJobId(queue, jobIdOfDedupValue(heldBy)), duplicate: true };
  }

  work<P extends JsonValue = JsonValue>(
    queue: string,
    handler: JobHandler<P>,
    options: WorkOptions = {},
  ): JobWorker {
    this.#ensureOpen();
    validateQueueName(queue);
    if (typeof handler !== "function") throw invalid("handler must be a function");
    const valid = validateWorkOptions(options);
    const client = new Redis(this.#url, {
      connectionName: `${this.namespace}:worker:${queue}`,
      retryStrategy: (attempt) => reconnectDelay(attempt),
      ...this.#redis,
      // BullMQ's worker needs commands to wait out a reconnect (and checks this on its blocking
      // duplicate of this connection); every call of the adapter's own is bounded by a deadline.
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      // Longer than BullMQ's longest blocking fetch (10 s) plus its own watchdog (1 s).
      socketTimeout: 20_000,
      keyPrefix: undefined,
    });
    const worker = new RedisJobWorker<P>({
      queue,
      handler,
      options: valid,
      client,
      prefix: this.namespace,
      timeoutMs: Number.isFinite(this.#timeoutMs) ? this.#timeoutMs : DEFAULT_TIMEOUT_MS,
      encodeId: (bullId) => encodeJobId(queue, bullId),
      onError: this.#onError,
      onClosed: () => this.#workers.delete(worker as unknown as RedisJobWorker<never>),
    });
    this.#workers.add(worker as unknown as RedisJobWorker<never>);
    return worker;
  }

  async cancel(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#ensureOpen();
    if (typeof id !== "string" || id === "") throw invalid("job id must be a non-empty string");
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "cancel");
    const parts = decodeJobId(id);
    if (parts === undefined) return false;
    const { queue, bullId } = parts;
    const bull = this.#queue(queue);
    const deadline = startDeadline(timeoutMs);
    const describe = () => `cancel of job "${id}"`;
    const jobKey = bull.toKey(bullId);
    const state = await this.#calls.run(describe, true, deadline, options.signal, () =>
      (this.client as unknown as CancelCommand).projCancelJob(
        jobKey,
        `${jobKey}:lock`,
        bull.keys.completed ?? "",
        bull.keys.failed ?? "",
        bull.toKey(`cancelled:${bullId}`),
        bullId,
        CANCEL_MARK_TTL_MS,
        `${bull.keys.de}:`,
        CANCELLED_DEDUP_SUFFIX,
      ),
    );
    if (state === 1 || state === 3) {
      // Waiting or delayed: removed now. BullMQ refuses (0) if a worker took it meanwhile; the
      // mark then stops it at that worker's next lease renewal.
      await this.#calls.run(describe, true, deadline, options.signal, () => bull.remove(bullId));
    }
    return state === 1 || state === 2;
  }

  async listDeadLetters(queue: string, options: ListDeadLettersOptions = {}): Promise<Page<DeadLetter>> {
    this.#ensureOpen();
    validateQueueName(queue);
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "listDeadLetters");
    const limit = validateDeadLetterPageSize(options);
    const after = options.after === undefined ? undefined : decodeCursor(options.after);
    const bull = this.#queue(queue);
    const deadline = startDeadline(timeoutMs);
    const describe = () => `listDeadLetters of queue "${queue}"`;
    const entries = await this.#failedAfter(bull, after, limit + 1, deadline, describe, options.signal);
    const page = entries.slice(0, limit);
    const jobs = await this.#calls.run(describe, false, deadline, options.signal, () =>
      Promise.all(page.map((entry) => bull.getJob(entry.bullId))),
    );
    const items: DeadLetter[] = [];
    page.forEach((entry, index) => {
      const job = jobs[index] as Job | undefined;
      // Redriven (or removed) between the two reads.
      if (job === undefined) return;
      const failure = decodeFailure(job.failedReason);
      items.push({
        id: encodeJobId(queue, entry.bullId),
        queue,
        payload: job.data as JsonValue,
        attempts: failure.attempts ?? job.attemptsStarted,
        error: { code: failure.code, message: failure.message },
        failedAt: job.finishedOn ?? entry.failedAt,
      });
    });
    const last = page[page.length - 1];
    return entries.length > limit && last !== undefined
      ? { items, nextCursor: encodeCursor(last) }
      : { items };
  }

  async redrive(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#ensureOpen();
    if (typeof id !== "string" || id === "") throw invalid("job id must be a non-empty string");
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "redrive");
    const parts = decodeJobId(id);
    if (parts === undefined) return false;
    const bull = this.#queue(parts.queue);
    const deadline = startDeadline(timeoutMs);
    const describe = () => `redrive of job "${id}"`;
    const job = await this.#calls.run(describe, false, deadline, options.signal, () =>
      bull.getJob(parts.bullId),
    );
    if (job === undefined) return false;
    return this.#calls.run(describe, true, deadline, options.signal, () =>
      job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true }).then(
        () => true,
        (error: unknown) => {
          // BullMQ's answer that the job is not (or no longer) a failed one: not a dead letter.
          if (typeof (error as { code?: unknown }).code === "number") return false;
          throw error;
        },
      ),
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #ensureOpen(): void {
    if (this.#closing !== undefined) throw closedError(WHAT);
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, {
        connection: this.client,
        prefix: this.namespace,
        // The version check costs a round trip per queue; the README states the Redis floor.
        skipVersionCheck: true,
      });
      queue.on("error", (error: unknown) => {
        if (this.#closing === undefined) this.#onError?.(mapRedisError(error, `queue "${name}"`));
      });
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /** Up to `count` entries of the failed set after `after`, by failure time then id. */
  async #failedAfter(
    bull: Queue,
    after: DeadLetterCursor | undefined,
    count: number,
    deadline: Deadline,
    describe: () => string,
    signal: AbortSignal | undefined,
  ): Promise<DeadLetterCursor[]> {
    const key = bull.keys.failed ?? "";
    const found: DeadLetterCursor[] = [];
    let offset = 0;
    for (;;) {
      const batch = count - found.length + 16;
      const raw = await this.#calls.run(describe, false, deadline, signal, () =>
        this.client.zrange(
          key,
          after === undefined ? "-inf" : after.failedAt,
          "+inf",
          "BYSCORE",
          "LIMIT",
          offset,
          batch,
          "WITHSCORES",
        ),
      );
      for (let i = 0; i + 1 < raw.length; i += 2) {
        offset += 1;
        const bullId = raw[i] as string;
        const failedAt = Number(raw[i + 1]);
        if (after !== undefined && failedAt === after.failedAt && bullId <= after.bullId) continue;
        found.push({ bullId, failedAt });
        if (found.length === count) return found;
      }
      if (raw.length < batch * 2) return found;
    }
  }

  async #shutdown(): Promise<void> {
    await Promise.all([...this.#workers].map((worker) => worker.close()));
    this.#calls.abandonWaiters(closedError(WHAT));
    await Promise.all([...this.#queues.values()].map((queue) => queue.close().catch(() => undefined)));
    if (this.client.status === "ready") {
      const graceMs = Math.min(
        Number.isFinite(this.#timeoutMs) ? this.#timeoutMs : DEFAULT_TIMEOUT_MS,
        2_000,
      );
      await bounded(this.client.quit(), graceMs, () => new Error("quit timed out")).catch(() => undefined);
    }
    if (this.client.status !== "end") this.client.disconnect();
  }
}
