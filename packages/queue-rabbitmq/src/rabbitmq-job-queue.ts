import {
  type Cache,
  closedError,
  DEFAULT_IDEMPOTENCY_WINDOW_MS,
  DEFAULT_MAX_JOB_PAYLOAD_BYTES,
  type DeadLetter,
  decodeJobPayload,
  type EnqueueOptions,
  type EnqueueResult,
  encodeJobPayload,
  InfrastructureError,
  isInfrastructureError,
  type JobCallOptions,
  type JobHandler,
  type JobQueue,
  type JobQueueCapabilities,
  type JobWorker,
  type JsonValue,
  type ListDeadLettersOptions,
  MAX_CACHE_BATCH,
  outcomeUnknownError,
  type Page,
  validateDeadLetterPageSize,
  validateEnqueueOptions,
  validateJobCallOptions,
  validateQueueName,
  validateWorkOptions,
  type WorkOptions,
} from "@proj/ports";
import type { ConsumeMessage, Options } from "amqplib";
import { bounded, type Deadline, pause, remainingMs, startDeadline, timeoutError } from "./deadline.js";
import { type JobMessage, jobMessageType } from "./job-message.js";
import { closeQuietly, Link, UnroutedError } from "./link.js";
import { mapAmqpError } from "./map-amqp-error.js";
import {
  blockOfJobId,
  epochOfJobId,
  epochOfWellFormedJobId,
  idempotencyKeyHash,
  isIssuedJobId,
  JobIdIssuer,
  newNonce,
  QueueNames,
  queueOfJobId,
  waitPeriodMs,
} from "./names.js";
import { RabbitMqWorker } from "./worker.js";

export interface RabbitMqJobQueueOptions {
  /**
   * Where the state lives that RabbitMQ does not keep per message: which jobs ended (done,
   * cancelled: checked before each delivery and while a handler runs), dead letters' records (for
   * `redrive`), and the keys of job ids (so `cancel` tells the ids the adapter issued). Any `Cache` shared by
   * every process of the application, such as `@proj/cache-redis`; it must not evict entries
   * before their TTL (Redis: a `noeviction` or `volatile-*` policy with room to spare). The queue
   * does not close it.
   */
  state: Cache<JsonValue>;
  /** `amqp://user:password@host:port/vhost`. Default `amqp://guest:guest@127.0.0.1:5672`. */
  url?: string;
  /**
   * First part of every RabbitMQ name the adapter uses (`<prefix>.<queue>`, `<prefix>.<queue>.wait.<ms>`,
   * `<prefix>.<queue>.dead`, `<prefix>.<queue>.key.<hash>`) and of its state keys. Default `jobs`.
   * 1–32 characters of `A–Z a–z 0–9 _ -`, not starting with `amq`.
   */
  prefix?: string;
  /** Default deadline of every call, in milliseconds (connecting included). Default 10,000. */
  timeoutMs?: number;
  /** AMQP heartbeat: a silent connection is declared dead after about twice this. Default 10. */
  heartbeatSeconds?: number;
  /** How long an idempotency key is remembered, in milliseconds. Default 24 hours. */
  idempotencyWindowMs?: number;
  /** Largest payload, in UTF-8 bytes of its JSON text. Default 256 KiB. */
  maxPayloadBytes?: number;
  /**
   * How long the adapter keeps what it knows about a job, in milliseconds: end marks (done,
   * cancelled) and dead letters (state entries and the dead-letter stream's `x-max-age`); the key
   * of a job's id lives at least 3 times this (plus the job's delay) past its enqueue, which is
   * how long it stays cancellable. Default 14 days.
   */
  retentionMs?: number;
  /**
   * Whether `cancel` is offered (`capabilities.cancel`). Default `true`. With `false` the adapter
   * keeps no state per job: no epoch record at enqueue, no cancellation check before a delivery or
   * while a handler runs, no end mark when a job finishes (what `cancel` needs and costs: see the
   * README's benchmark); `cancel` fails with `NOT_SUPPORTED`. Dead letters and idempotency keys
   * work as before. Every process sharing the queues must use the same setting: a worker without
   * cancellation runs jobs that another process cancelled.
   */
  cancellation?: boolean;
  /** Shown as the connection's name in RabbitMQ's tools. Default `@proj/queue-rabbitmq`. */
  connectionName?: string;
  /**
   * Told about failures that no call returns: a worker that lost its connection and is
   * reconnecting, a state clean-up that failed, a message on a job queue that is no job.
   */
  onError?: (error: InfrastructureError) => void;
}

/** What the state keeps about a dead letter (and the dead-letter stream repeats). */
interface DeadRecord {
  id: string;
  queue: string;
  /** The payload's JSON text. */
  payload: string;
  attempts: number;
  maxAttempts: number;
  error: { code: string; message: string };
  failedAt: number;
  keyHash: string | null;
  /** Tells this dead-lettering of the job from an earlier one (a job redriven, then dead again). */
  nonce: string;
}

const DEFAULTS = {
  url: "amqp://guest:guest@127.0.0.1:5672",
  prefix: "jobs",
  timeoutMs: 10_000,
  heartbeatSeconds: 10,
  retentionMs: 14 * 24 * 60 * 60 * 1000,
  connectionName: "@proj/queue-rabbitmq",
};

/**
 * How long, in `retentionMs`, an epoch's record outlives the enqueue of each of its jobs
 * (plus the job's delay): the job waits or retries (what the state keeps of a job lasts
 * `retentionMs`), stays a dead letter up to `retentionMs`, and once redriven stays cancellable for
 * `retentionMs` more.
 */
const EPOCH_RETENTIONS = 3;

/** Epoch keys read from the state, kept in memory (cleared when full: read again on demand). */
const KNOWN_EPOCHS = 1_024;

/** The most a `JobQueue.close()` waits for each worker's handlers (the workers' default deadline). */
const QUEUE_CLOSE_WORKER_DEADLINE_MS = 30_000;

const PREFIX = /^(?!amq)[A-Za-z0-9_-]{1,32}$/;

/**
 * How long a worker's "not cancelled" answer stands, in milliseconds, counted from when the read
 * behind it was sent: deliveries start on it without a read of their own until then. `cancel`
 * waits `ANSWER_STANDS_MS + CLOCK_MARGIN_MS` after its end mark is written before it answers, so
 * every delivery started on an answer read before the mark started before `cancel` answered (a
 * running job, whose signal fires as for any running job), and none after.
 */
export const ANSWER_STANDS_MS = 100;
/** Covers two processes' monotonic clocks running at slightly different rates, and the payload's decoding between the last check and the handler's start. */
const CLOCK_MARGIN_MS = 10;
/** Once less than this is left of an epoch's answer, the next delivery refreshes it in the background. */
const REFRESH_WHEN_LEFT_MS = ANSWER_STANDS_MS / 2;

/**
 * How long the end marks of finished jobs wait to be written together, in milliseconds: `cancel`
 * of a job that ended less than this (plus a state round trip) ago may still answer `true`.
 */
export const END_MARKS_EVERY_MS = 10;

/** Answer of `hasEnded`: the job ended (drop it), or until when (`performance.now()`) it may start. */
export type EndCheck = true | number;

/**
 * `JobQueue` on RabbitMQ (3.10 or later): one durable quorum queue per port queue, publisher
 * confirms, delays and retries through quorum wait queues with a fixed TTL each (powers of two
 * from 64 ms to about 4.7 hours) that dead-letter back (at least once) into the queue, dead
 * letters in a stream. Per-job state RabbitMQ does not keep (cancellation, dead-letter records)
 * lives in the `state` cache; idempotency keys are claimed atomically by declaring a queue named
 * after the key. See the package README for the design, its windows and its limits.
 */
export class RabbitMqJobQueue implements JobQueue {
  readonly capabilities: JobQueueCapabilities;
  /** @internal Whether `cancel` is offered (the `cancellation` option): the per-job state is kept. */
  readonly cancellation: boolean;
  /** The RabbitMQ names this adapter uses. */
  readonly names: QueueNames;

  readonly #link: Link;
  /** Dead-letter streams only: RabbitMQ 3.10 may drop a whole connection over a stream (see README). */
  readonly #streamLink: Link;
  readonly #state: Cache<JsonValue>;
  readonly #timeoutMs: number;
  readonly #windowMs: number;
  readonly #retentionMs: number;
  readonly #maxPayloadBytes: number;
  readonly #onError: (error: InfrastructureError) => void;
  readonly #declared = new Map<string, Promise<void>>();
  /** Queues whose declaration (or probe) has succeeded: the hot path skips waiting on them. */
  readonly #ready = new Set<string>();
  readonly #workers = new Set<RabbitMqWorker>();
  readonly #ids = new JobIdIssuer();
  /** The epoch whose record `#epochUntil` and `#epochWrite` are about (the issuer's current one). */
  #recordedEpoch = "";
  /** Until when (`Date.now()` scale) that epoch's record is known to live in the state. */
  #epochUntil = 0;
  /** The epoch record's write in flight, shared by the enqueues that need it. */
  #epochWrite: { until: number; done: Promise<void> } | undefined;
  /** Epoch keys read from the state (`cancel` of jobs other processes issued). */
  readonly #epochKeys = new Map<string, string>();
  /** Per epoch, the "cancels exist" read in flight, which deliveries needing one join. */
  readonly #cancelChecks = new Map<string, Promise<EndCheck>>();
  /** Per epoch without cancels: until when (`performance.now()`) that answer stands. */
  readonly #cancelFree = new Map<string, number>();
  /** Epochs known to have a cancelled job: their deliveries read their own end marks. */
  readonly #epochsWithCancels = new Set<string>();
  /** End marks (done, duplicate) waiting for the next write, and the writes in flight. */
  #pendingEnds: Array<{ key: string; value: JsonValue; ttlMs: number }> = [];
  /**
   * With a state offering member sets: per epoch, the finished jobs' blocks waiting for the next
   * write into the epoch's done set (instead of one `done` mark per job), and how many in all.
   */
  #pendingDone = new Map<string, string[]>();
  #pendingDoneCount = 0;
  readonly #endWrites = new Set<Promise<void>>();
  #endsTimer: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RabbitMqJobQueueOptions) {
    if (options === null || typeof options !== "object" || options.state === undefined) {
      throw invalid("a RabbitMQ job queue needs `state`: a shared Cache (see the README)");
    }
    const prefix = options.prefix ?? DEFAULTS.prefix;
    if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
      throw invalid(
        `prefix must be 1-32 characters of A-Z a-z 0-9 _ - not starting with "amq", got ${String(prefix)}`,
      );
    }
    this.names = new QueueNames(prefix);
    this.#state = options.state;
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULTS.timeoutMs, "timeoutMs");
    this.#windowMs = checkPositive(
      options.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS,
      "idempotencyWindowMs",
    );
    this.#retentionMs = checkPositive(options.retentionMs ?? DEFAULTS.retentionMs, "retentionMs");
    this.#maxPayloadBytes = checkPositive(
      options.maxPayloadBytes ?? DEFAULT_MAX_JOB_PAYLOAD_BYTES,
      "maxPayloadBytes",
    );
    const heartbeatSeconds = options.heartbeatSeconds ?? DEFAULTS.heartbeatSeconds;
    if (!Number.isSafeInteger(heartbeatSeconds) || heartbeatSeconds < 0) {
      throw invalid(`heartbeatSeconds must be a non-negative integer, got ${String(heartbeatSeconds)}`);
    }
    this.#onError = options.onError ?? (() => undefined);
    const cancellation = options.cancellation ?? true;
    if (typeof cancellation !== "boolean") {
      throw invalid(`cancellation must be a boolean, got ${typeof cancellation}`);
    }
    this.cancellation = cancellation;
    this.capabilities = Object.freeze({
      shared: true,
      idempotencyWindowMs: this.#windowMs,
      maxPayloadBytes: this.#maxPayloadBytes,
      cancel: cancellation,
    });
    const linkOptions = {
      url: options.url ?? DEFAULTS.url,
      heartbeatSeconds,
      connectionName: options.connectionName ?? DEFAULTS.connectionName,
      silenceMs: Number.isFinite(this.#timeoutMs) ? this.#timeoutMs : 30_000,
      onError: (error: InfrastructureError) => this.reportError(error),
    };
    this.#link = new Link(linkOptions);
    this.#streamLink = new Link({
      ...linkOptions,
      connectionName: `${linkOptions.connectionName} (dead letters)`,
    });
  }

  async enqueue(queue: string, payload: JsonValue, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.#ensureOpen();
    validateQueueName(queue);
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "enqueue");
    const { idempotencyKey, delayMs, maxAttempts } = validateEnqueueOptions(options);
    const text = encodeJobPayload(payload, this.#maxPayloadBytes);
    const { signal } = options;
    const deadline = startDeadline(timeoutMs);
    const id = this.#ids.next(queue);
    const keyHash = idempotencyKey === undefined ? undefined : idempotencyKeyHash(idempotencyKey);
    const what = `enqueue on ${this.names.main(queue)}`;
    const job: JobMessage = { id, queue, attempt: 1, maxAttempts, dueAt: Date.now() + delayMs, keyHash };
    // No state write per job: `cancel` recognises the id by its epoch's record, written with the
    // epoch's first job (and again for a longer delay than any before) while it is published.
    // Published before the record is in the state, the job runs but cannot be cancelled: the
    // caller hears of it as an unknown outcome.
    const recorded = this.cancellation
      ? this.#recordEpoch(Date.now() + EPOCH_RETENTIONS * this.#retentionMs + delayMs, deadline, signal, what)
      : undefined;
    try {
      await this.sendJob(job, Buffer.from(text), deadline, signal, what);
    } catch (error) {
      await recorded;
      throw error;
    }
    const recordFailure = recorded === undefined ? undefined : await recorded;
    if (recordFailure !== undefined) {
      throw outcomeUnknownError(
        isInfrastructureError(recordFailure) && recordFailure.code === "TIMEOUT" ? "TIMEOUT" : "UNAVAILABLE",
        `${what}: the job was published but the state store did not take its epoch's record (it will run, but cancel cannot find it)`,
        { cause: recordFailure },
      );
    }
    if (keyHash === undefined) return { id, duplicate: false };
    // The job is published before its key is claimed: a crash between the two leaves a job that
    // claims the key itself when delivered, never a claimed key without a job.
    let holder: string | undefined;
    try {
      holder = await this.claim(queue, keyHash, id, deadline, signal);
    } catch (error) {
      throw outcomeUnknownError(
        isInfrastructureError(error) && error.code === "TIMEOUT" ? "TIMEOUT" : "UNAVAILABLE",
        `${what}: the job was published but its idempotency key could not be claimed (the job claims it when delivered; retry with the same key to learn the job's id)`,
        { cause: error },
      );
    }
    if (holder === id || holder === undefined) return { id, duplicate: false };
    // Another enqueue holds the key: this job's message is dropped when delivered (its claim
    // fails); its end mark also covers a delivery after the key's window ran out.
    void this.#quietly(
      this.#state.set(this.#endKey(id), "duplicate", { ttlMs: this.#retentionMs + delayMs }),
      `dropping the duplicate message of job ${id}`,
    );
    return { id: holder, duplicate: true };
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
    const worker = new RabbitMqWorker(this, queue, handler as JobHandler, valid);
    this.#workers.add(worker);
    void worker.closed.then(() => this.#workers.delete(worker));
    worker.start();
    return worker;
  }

  async cancel(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#ensureOpen();
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "cancel");
    if (!this.cancellation) {
      throw new InfrastructureError(
        "NOT_SUPPORTED",
        "this RabbitMQ job queue was created with cancellation: false (capabilities.cancel is false)",
        { retryable: false },
      );
    }
    const epoch = typeof id === "string" ? epochOfJobId(id) : undefined;
    if (epoch === undefined) return false;
    const deadline = startDeadline(timeoutMs);
    const { signal } = options;
    const what = `cancel of job ${id}`;
    try {
      // An id no issuer of this prefix made is unknown; a job that ended has its end mark (done,
      // cancelled, a duplicate's message) or its dead-letter record. Any other issued job is
      // waiting or running: its end mark, once written, stops every later delivery.
      const key = await this.#epochKeyOf(epoch, deadline, signal, what);
      if (key === undefined || !isIssuedJobId(id, key)) return false;
      const ended = await Promise.all([
        this.#state.has(this.#endKey(id), this.#stateCall(deadline, signal, what)),
        this.#state.has(this.#deadKey(id), this.#stateCall(deadline, signal, what)),
        // A job that finished is in its epoch's done set, when the state has member sets.
        this.#state.hasMember?.(
          this.#doneKey(epoch),
          blockOfJobId(id),
          this.#stateCall(deadline, signal, what),
        ),
      ]);
      if (ended[0] || ended[1] || ended[2] === true) return false;
      // The epoch's "cancels exist" mark goes before the job's end mark: a worker that finds none
      // knows no job of the epoch has a `cancelled` mark (see `hasEnded`). It outlives the end
      // mark: twice its TTL, and the end mark is sent less than `retentionMs` after it.
      const flaggedAt = performance.now();
      await this.#state.set(this.#cancelsKey(epoch), 1, {
        ttlMs: 2 * this.#retentionMs,
        ...this.#stateCall(deadline, signal, what),
      });
      if (performance.now() - flaggedAt >= this.#retentionMs) throw timeoutError(deadline, what);
      // This process's workers read their jobs' own marks from now on.
      this.#cancelFree.delete(epoch);
      if (this.#epochsWithCancels.size >= KNOWN_EPOCHS) this.#epochsWithCancels.clear();
      this.#epochsWithCancels.add(epoch);
      await this.#state.set(this.#endKey(id), "cancelled", {
        ttlMs: this.#retentionMs,
        ...this.#stateCall(deadline, signal, what),
      });
      // Deliveries may start on a "not cancelled" answer read up to ANSWER_STANDS_MS ago: once
      // that has passed, every delivery of the job either started before this answer (it runs,
      // and its signal fires at the next check) or reads the mark.
      // The mark is written: a deadline or a signal here leaves the outcome unknown.
      await bounded(pause(ANSWER_STANDS_MS + CLOCK_MARGIN_MS), deadline, signal, what, { sent: true });
      return true;
    } catch (error) {
      throw stateError(error, `${what} failed`, true);
    }
  }

  async listDeadLetters(queue: string, options: ListDeadLettersOptions = {}): Promise<Page<DeadLetter>> {
    this.#ensureOpen();
    validateQueueName(queue);
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "listDeadLetters");
    const limit = validateDeadLetterPageSize(options);
    const { after, signal } = options;
    if (after !== undefined && (typeof after !== "string" || !/^(0|[1-9][0-9]{0,15})$/.test(after))) {
      throw invalid("after must be a nextCursor returned by listDeadLetters");
    }
    const deadline = startDeadline(timeoutMs);
    const stream = this.names.dead(queue);
    return this.#onStreams(deadline, signal, async () => {
      if (!(await this.#streamLink.exists(stream, deadline, signal))) return { items: [] };
      return this.#readDeadLetters(
        queue,
        stream,
        limit,
        after === undefined ? "first" : Number(after),
        deadline,
        signal,
      );
    });
  }

  async redrive(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#ensureOpen();
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "redrive");
    const queue = queueOfJobId(id);
    if (queue === undefined) return false;
    const deadline = startDeadline(timeoutMs);
    const { signal } = options;
    const what = `redrive of job ${id}`;
    let record: DeadRecord | undefined;
    try {
      const stored = await this.#state.get(this.#deadKey(id), this.#stateCall(deadline, signal, what));
      record = asDeadRecord(stored);
      if (record === undefined) return false;
      // Of concurrent redrives, the one that removes the record puts the job back.
      if (!(await this.#state.delete(this.#deadKey(id), this.#stateCall(deadline, signal, what))))
        return false;
    } catch (error) {
      throw stateError(error, `${what} failed`, true);
    }
    try {
      // The job is waiting again: no end mark (a cancel made while it was dying) may drop it.
      await this.#state.delete(this.#endKey(id), this.#stateCall(deadline, signal, what));
      const job: JobMessage = {
        id,
        queue,
        attempt: 1,
        maxAttempts: record.maxAttempts,
        dueAt: Date.now(),
        keyHash: record.keyHash ?? undefined,
      };
      await this.sendJob(job, Buffer.from(record.payload), deadline, signal, what);
      return true;
    } catch (error) {
      // Put the record back so the dead letter can be redriven again (unless the publish may
      // have happened: then the job may be back, and a second redrive would double it).
      const unknown = isInfrastructureError(error) && error.details.outcome === "unknown";
      if (!unknown) {
        await this.#quietly(
          this.#state.set(this.#deadKey(id), record as unknown as JsonValue, { ttlMs: this.#retentionMs }),
          `restoring the dead letter of job ${id}`,
        );
      }
      throw isInfrastructureError(error) ? error : mapAmqpError(error, what);
    }
  }

  /** Closes every worker (each waits up to 30 s for its handlers), then the connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled(
        [...this.#workers].map((worker) => worker.close({ deadlineMs: QUEUE_CLOSE_WORKER_DEADLINE_MS })),
      );
      // The end marks of the last jobs: each write is bounded by the state's own deadline.
      if (this.#pendingEnds.length > 0 || this.#pendingDoneCount > 0) this.#writeEnds();
      await Promise.allSettled([...this.#endWrites]);
      await Promise.all([
        this.#link.close(Math.min(this.#timeoutMs, 2_000)),
        this.#streamLink.close(Math.min(this.#timeoutMs, 2_000)),
      ]);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- shared with the workers -------------------------------------------------------------

  /** @internal */
  get link(): Link {
    return this.#link;
  }

  /** @internal */
  get defaultTimeoutMs(): number {
    return this.#timeoutMs;
  }

  /** @internal */
  reportError(error: InfrastructureError): void {
    try {
      this.#onError(error);
    } catch {
      // A throwing listener must not break a worker.
    }
  }

  /** @internal Declares the queue workers consume, once per adapter. */
  ensureMainQueue(queue: string, deadline: Deadline, signal: AbortSignal | undefined): Promise<void> {
    return this.#ensure(
      this.names.main(queue),
      { durable: true, arguments: { "x-queue-type": "quorum" } },
      deadline,
      signal,
    );
  }

  /**
   * @internal Publishes a job to its queue, or to the wait queue for what is left of its delay;
   * a queue that turns out to be missing (deleted under the adapter) is declared again once.
   */
  sendJob(
    job: JobMessage,
    content: Buffer,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const main = this.names.main(job.queue);
    if (job.dueAt <= Date.now() && this.#ready.has(main)) {
      // The usual case, a due job to a queue declared already: published in this turn, and only
      // a queue deleted under the adapter (returned unrouted) takes the long way.
      return this.#link
        .publish({ queue: main, content, type: jobMessageType(job) }, deadline, signal, what)
        .then(undefined, (error: unknown) => {
          if (!(error instanceof UnroutedError)) throw error;
          this.#forget(main);
          return this.#sendJobDeclaring(job, content, deadline, signal, what, 2);
        });
    }
    return this.#sendJobDeclaring(job, content, deadline, signal, what, 1);
  }

  /** `sendJob`, declaring the queues it needs first; a job returned unrouted is sent once more. */
  async #sendJobDeclaring(
    job: JobMessage,
    content: Buffer,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
    firstTry: number,
  ): Promise<void> {
    const type = jobMessageType(job);
    const left = job.dueAt - Date.now();
    const main = this.names.main(job.queue);
    const target = left > 0 ? this.names.wait(job.queue, waitPeriodMs(left)) : main;
    for (let tries = firstTry; ; tries++) {
      await this.ensureMainQueue(job.queue, deadline, signal);
      if (left > 0) await this.#ensureWaitQueue(job.queue, waitPeriodMs(left), deadline, signal);
      try {
        await this.#link.publish({ queue: target, content, type }, deadline, signal, what);
        return;
      } catch (error) {
        if (!(error instanceof UnroutedError) || tries > 1) throw error;
        this.#forget(target);
        this.#forget(main);
      }
    }
  }

  /** Forgets that a queue was declared (it was deleted under the adapter): the next use declares it. */
  #forget(name: string): void {
    this.#declared.delete(name);
    this.#ready.delete(name);
  }

  /**
   * @internal Claims an idempotency key for job `id` by declaring the key's queue with the id as
   * an argument: RabbitMQ creates a queue once, and refuses (406) a declaration with another id.
   * The holder then records its id in the state, where a refused claimant reads it (the 406 text
   * names the holder too, but RabbitMQ cuts it to 255 bytes). Returns the holder's id, or, with
   * `holderNeeded` false (a worker checking a delivery), `undefined` when another job holds it.
   */
  async claim(
    queue: string,
    keyHash: string,
    id: string,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    holderNeeded = true,
  ): Promise<string | undefined> {
    const name = this.names.claim(queue, keyHash);
    const what = `claiming idempotency key queue ${name}`;
    try {
      await this.#link.declare(
        name,
        { durable: true, arguments: { "x-expires": this.#windowMs, "x-dead-letter-exchange": id } },
        deadline,
        signal,
      );
    } catch (error) {
      if (!isInfrastructureError(error) || error.details.replyCode !== 406) throw error;
      const text = error.cause instanceof Error ? error.cause.message : error.message;
      if (!text.includes("inequivalent arg 'x-dead-letter-exchange'")) {
        throw new InfrastructureError(
          "CONFLICT",
          `the idempotency key queue ${name} exists with other arguments (was idempotencyWindowMs changed?)`,
          { cause: error, retryable: false },
        );
      }
      return holderNeeded ? this.#holderOf(queue, keyHash, deadline, signal, what) : undefined;
    }
    await this.#quietly(
      this.#state.set(this.#keyKey(queue, keyHash), id, {
        ttlMs: 2 * this.#windowMs,
        ...this.#stateCall(deadline, signal, what),
      }),
      `recording the holder of ${name}`,
    );
    return id;
  }

  /** The holder's id, once it has recorded it (a moment after its claim). */
  async #holderOf(
    queue: string,
    keyHash: string,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<string> {
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      let holder: JsonValue | undefined;
      try {
        holder = await this.#state.get(this.#keyKey(queue, keyHash), this.#stateCall(deadline, signal, what));
      } catch (error) {
        throw stateError(error, `${what} failed`, false);
      }
      if (typeof holder === "string" && queueOfJobId(holder) === queue) return holder;
      // The holder claimed the key but has not recorded its id yet (or died in between: then
      // its job records it when delivered).
      if (remainingMs(deadline) <= wait) {
        throw new InfrastructureError(
          "TIMEOUT",
          `${what}: another job holds the key but its id was not recorded within ${deadline.timeoutMs} ms`,
        );
      }
      await bounded(pause(wait), deadline, signal, what);
    }
  }

  /**
   * @internal Whether a delivery must be dropped, checked before it runs: the job was cancelled
   * (or, for a keyed job, its message is a duplicate enqueue's): `true`, or until when the job may
   * start. Jobs without a key first ask whether any job of their epoch was cancelled, an answer
   * shared by the epoch's deliveries and standing `ANSWER_STANDS_MS` from when its read was sent
   * (answered from memory meanwhile, without a promise). No cancels: the job may start until then.
   * Otherwise, and for keyed jobs, each reads its own end mark.
   */
  hasEnded(job: JobMessage, deadline: Deadline): EndCheck | Promise<EndCheck> {
    // Without cancellation only a keyed job's message has a mark to read (a duplicate's).
    if (!this.cancellation && job.keyHash === undefined) return Number.POSITIVE_INFINITY;
    const epoch = epochOfWellFormedJobId(job.id);
    if (job.keyHash === undefined && !this.#epochsWithCancels.has(epoch)) {
      const until = this.#cancelFree.get(epoch);
      if (until !== undefined) {
        const left = until - performance.now();
        if (left > 0) {
          // Read again ahead of time, so that deliveries seldom wait on the read.
          if (left < REFRESH_WHEN_LEFT_MS) this.#cancelsIn(epoch, deadline).catch(() => undefined);
          return until;
        }
        this.#cancelFree.delete(epoch);
      }
      return this.#cancelsIn(epoch, deadline).then((free) =>
        free === true ? this.#ownEndMark(job.id, deadline) : free,
      );
    }
    return this.#ownEndMark(job.id, deadline);
  }

  async #ownEndMark(id: string, deadline: Deadline): Promise<EndCheck> {
    const sentAt = performance.now();
    return (await this.hasEndMark(id, deadline)) ? true : sentAt + ANSWER_STANDS_MS;
  }

  /** @internal Whether the job has an end mark (checked while its handler runs). */
  hasEndMark(id: string, deadline: Deadline): Promise<boolean> {
    return this.#state.has(this.#endKey(id), this.#stateCall(deadline, undefined, `checking job ${id}`));
  }

  /**
   * Whether any job of the epoch was cancelled: `true`, or until when the answer "none" stands
   * (which is also remembered for the epoch's next deliveries).
   */
  #cancelsIn(epoch: string, deadline: Deadline): Promise<EndCheck> {
    let check = this.#cancelChecks.get(epoch);
    if (check === undefined) {
      const what = `checking the jobs of epoch ${epoch} for cancellation`;
      const call = this.#stateCall(deadline, undefined, what);
      check = new Promise<void>((resolve) => process.nextTick(resolve)).then(async () => {
        // Deliveries that arrive while it is in flight join it: its answer stands from when it
        // was sent, whoever waits on it.
        const sentAt = performance.now();
        try {
          if (await this.#state.has(this.#cancelsKey(epoch), call)) {
            this.#cancelFree.delete(epoch);
            // The mark lives twice `retentionMs`: the epoch's jobs read their own from now on.
            if (this.#epochsWithCancels.size >= KNOWN_EPOCHS) this.#epochsWithCancels.clear();
            this.#epochsWithCancels.add(epoch);
            return true;
          }
        } finally {
          if (this.#cancelChecks.get(epoch) === check) this.#cancelChecks.delete(epoch);
        }
        const until = sentAt + ANSWER_STANDS_MS;
        if (this.#cancelFree.size >= KNOWN_EPOCHS) this.#cancelFree.clear();
        if (until > (this.#cancelFree.get(epoch) ?? 0)) this.#cancelFree.set(epoch, until);
        return until;
      });
      this.#cancelChecks.set(epoch, check);
    }
    return check;
  }

  /** @internal The job ended (done, a dropped duplicate): `cancel` answers false from now on. */
  ended(id: string, how: "done" | "duplicate"): void {
    // A done mark is what makes `cancel` answer false for a finished job.
    if (how === "done" && !this.cancellation) return;
    if (how === "done" && this.#state.addMembers !== undefined) {
      // One member (the id's block, unique within its epoch) of the epoch's done set: the state
      // adds a batch of them in one command on one key, where a mark per job costs a key each.
      const epoch = epochOfWellFormedJobId(id);
      const members = this.#pendingDone.get(epoch);
      if (members === undefined) this.#pendingDone.set(epoch, [blockOfJobId(id)]);
      else members.push(blockOfJobId(id));
      this.#pendingDoneCount++;
    } else {
      this.#pendingEnds.push({ key: this.#endKey(id), value: how, ttlMs: this.#retentionMs });
    }
    // The marks of the jobs that end within END_MARKS_EVERY_MS go in one `addMembers` per epoch,
    // or one `setMany` (when the state offers them): one state call per batch, not one per job.
    if (this.#pendingEnds.length >= MAX_CACHE_BATCH || this.#pendingDoneCount >= MAX_CACHE_BATCH) {
      this.#writeEnds();
    } else if (this.#endsTimer === undefined) {
      this.#endsTimer = setTimeout(() => this.#writeEnds(), END_MARKS_EVERY_MS);
    }
  }

  /**
   * Sends what is pending: one `addMembers` per epoch, and the other marks in one `setMany` (else
   * one `set` each). `ended` sends as soon as either list reaches `MAX_CACHE_BATCH`, so neither
   * ever holds more than one call takes.
   */
  #writeEnds(): void {
    clearTimeout(this.#endsTimer);
    this.#endsTimer = undefined;
    const state = this.#state;
    if (this.#pendingDoneCount > 0 && state.addMembers !== undefined) {
      const done = this.#pendingDone;
      this.#pendingDone = new Map();
      this.#pendingDoneCount = 0;
      for (const [epoch, members] of done) {
        let write: Promise<unknown>;
        try {
          write = state.addMembers(this.#doneKey(epoch), members, { ttlMs: this.#retentionMs });
        } catch (error) {
          write = Promise.reject(error);
        }
        this.#trackEndWrite(write, `recording the end of ${members.length} jobs of epoch ${epoch}`);
      }
    }
    const entries = this.#pendingEnds;
    if (entries.length === 0) return;
    this.#pendingEnds = [];
    let write: Promise<unknown>;
    try {
      write =
        state.setMany !== undefined
          ? state.setMany(entries)
          : Promise.all(entries.map(({ key, value, ttlMs }) => state.set(key, value, { ttlMs })));
    } catch (error) {
      write = Promise.reject(error);
    }
    this.#trackEndWrite(
      write,
      entries.length === 1
        ? `recording the end of ${entries[0]?.key}`
        : `recording the end of ${entries.length} jobs`,
    );
  }

  /** An end marks' write in the background: failures go to `onError`, `close()` waits for it. */
  #trackEndWrite(write: Promise<unknown>, what: string): void {
    const tracked = this.#quietly(write, what).finally(() => this.#endWrites.delete(tracked));
    this.#endWrites.add(tracked);
  }

  /**
   * @internal Records a dead letter: the state's record first (what `redrive` reads, and what
   * makes it listed), then the stream's entry (the listing order).
   */
  async deadLetter(
    job: JobMessage,
    content: Buffer,
    attempts: number,
    error: { code: string; message: string },
    deadline: Deadline,
  ): Promise<void> {
    const what = `dead-lettering job ${job.id}`;
    const record: DeadRecord = {
      id: job.id,
      queue: job.queue,
      payload: content.toString("utf8"),
      attempts,
      maxAttempts: job.maxAttempts,
      error,
      failedAt: Date.now(),
      keyHash: job.keyHash ?? null,
      nonce: newNonce(),
    };
    try {
      await this.#state.set(this.#deadKey(job.id), record as unknown as JsonValue, {
        ttlMs: this.#retentionMs,
        ...this.#stateCall(deadline, undefined, what),
      });
    } catch (cause) {
      throw stateError(cause, `${what} failed`, true);
    }
    const stream = this.names.dead(job.queue);
    await this.#ensureDeadStream(stream, deadline);
    await this.#streamLink.publish(
      { queue: stream, content: Buffer.from(JSON.stringify(record)), headers: { "x-job-kind": "dead" } },
      deadline,
      undefined,
      what,
    );
  }

  // ---- internals ---------------------------------------------------------------------------

  #ensureWaitQueue(
    queue: string,
    periodMs: number,
    deadline: Deadline,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return this.#ensure(
      this.names.wait(queue, periodMs),
      {
        durable: true,
        arguments: {
          "x-queue-type": "quorum",
          "x-message-ttl": periodMs,
          "x-dead-letter-exchange": "",
          "x-dead-letter-routing-key": this.names.main(queue),
          // Kept in the wait queue until the job's queue confirms it: no job lost on the way back.
          "x-dead-letter-strategy": "at-least-once",
          "x-overflow": "reject-publish",
        },
      },
      deadline,
      signal,
    );
  }

  /**
   * Declares a dead-letter stream, then writes a probe to it until it takes one. RabbitMQ 3.10.8
   * answers a stream's declaration before the stream can take writes; a publish in between
   * crashes the publishing channel (`osiris_writer:write(none, …)`) and the broker closes the
   * whole connection (541). Stream traffic has a connection of its own for that reason.
   */
  #ensureDeadStream(stream: string, deadline: Deadline): Promise<void> {
    if (this.#ready.has(stream)) return Promise.resolve();
    let ready = this.#declared.get(stream);
    if (ready === undefined) {
      ready = (async () => {
        await this.#streamLink.declare(stream, this.#deadStreamOptions(), deadline, undefined);
        await this.#onStreams(deadline, undefined, () =>
          this.#streamLink.publish(
            { queue: stream, content: Buffer.from("{}"), headers: { "x-job-kind": "probe" } },
            deadline,
            undefined,
            `probing dead-letter stream ${stream}`,
          ),
        );
      })();
      this.#declared.set(stream, ready);
      this.#track(stream, ready);
    }
    return bounded(ready, deadline, undefined, `preparing dead-letter stream ${stream}`);
  }

  /** Remembers a queue as ready once `declaring` succeeds; forgets the attempt when it fails. */
  #track(name: string, declaring: Promise<void>): void {
    declaring.then(
      () => {
        if (this.#declared.get(name) === declaring) this.#ready.add(name);
      },
      () => {
        if (this.#declared.get(name) === declaring) this.#declared.delete(name);
      },
    );
  }

  /** Runs a dead-letter stream step again (on a new connection) while the stream connection is lost under it. */
  async #onStreams<T>(
    deadline: Deadline,
    signal: AbortSignal | undefined,
    step: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        const lost = isInfrastructureError(error) && error.code === "UNAVAILABLE";
        if (!lost || remainingMs(deadline) <= 50 || signal?.aborted) throw error;
        await bounded(
          pause(Math.min(50 * attempt, 500)),
          deadline,
          signal,
          "waiting for the dead-letter stream",
        );
      }
    }
  }

  #deadStreamOptions(): Options.AssertQueue {
    return {
      durable: true,
      arguments: {
        "x-queue-type": "stream",
        "x-max-age": `${Math.ceil(this.#retentionMs / 1000)}s`,
        "x-stream-max-segment-size-bytes": 8_000_000,
      },
    };
  }

  #ensure(
    name: string,
    options: Options.AssertQueue,
    deadline: Deadline,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (this.#ready.has(name)) return Promise.resolve();
    let declared = this.#declared.get(name);
    if (declared === undefined) {
      // Shared by every caller that needs the queue: not tied to this caller's signal (each
      // caller stops waiting on its own signal below).
      const declaring = this.#link.declare(name, options, deadline, undefined);
      declared = declaring;
      this.#declared.set(name, declaring);
      this.#track(name, declaring);
    }
    return bounded(declared, deadline, signal, `declaring RabbitMQ queue ${name}`);
  }

  async #readDeadLetters(
    queue: string,
    stream: string,
    limit: number,
    from: number | "first",
    deadline: Deadline,
    signal: AbortSignal | undefined,
  ): Promise<Page<DeadLetter>> {
    const what = `listing the dead letters of ${queue}`;
    // A stream has no "end" a consumer can see: append a marker and read up to it.
    const marker = newNonce();
    await this.#streamLink.publish(
      {
        queue: stream,
        content: Buffer.from("{}"),
        headers: { "x-job-kind": "marker", "x-job-marker": marker },
      },
      deadline,
      signal,
      what,
    );
    const channel = await this.#streamLink.channel(deadline, signal, what);
    try {
      await bounded(channel.prefetch(Math.min(1_000, limit + 100)), deadline, signal, what);
      const entries: Array<{ offset: number; record: DeadRecord; current: Promise<boolean> }> = [];
      let reachedEnd = false;
      let wake: (() => void) | undefined;
      let failure: unknown;
      const onMessage = (message: ConsumeMessage | null) => {
        if (message === null) {
          failure = new InfrastructureError("UNAVAILABLE", `${what} failed: RabbitMQ cancelled the read`);
        } else {
          const headers = message.properties.headers ?? {};
          const kind = headers["x-job-kind"];
          if (kind === "marker" && headers["x-job-marker"] === marker) reachedEnd = true;
          else if (kind === "dead" && !reachedEnd) {
            const record = parseDeadRecord(message.content);
            const offset = headers["x-stream-offset"];
            if (record !== undefined && typeof offset === "number") {
              const current = this.#state
                .get(this.#deadKey(record.id), this.#stateCall(deadline, signal, what))
                .then((stored) => asDeadRecord(stored)?.nonce === record.nonce);
              current.catch(() => undefined);
              entries.push({ offset, record, current });
            }
          }
          try {
            channel.ack(message);
          } catch {
            // The channel closed: the read fails below.
          }
        }
        wake?.();
      };
      channel.on("close", () => {
        failure ??= new InfrastructureError("UNAVAILABLE", `${what} failed: the channel closed`);
        wake?.();
      });
      await bounded(
        channel.consume(stream, onMessage, { noAck: false, arguments: { "x-stream-offset": from } }),
        deadline,
        signal,
        what,
      );
      const items: DeadLetter[] = [];
      let next = 0;
      for (;;) {
        while (next < entries.length) {
          const entry = entries[next++] as (typeof entries)[number];
          if (!(await bounded(entry.current, deadline, signal, what))) continue;
          items.push(toDeadLetter(entry.record));
          if (items.length === limit) return { items, nextCursor: String(entry.offset + 1) };
        }
        if (reachedEnd) return { items };
        if (failure !== undefined) throw failure;
        if (remainingMs(deadline) === 0) throw timeoutError(deadline, what);
        await bounded(
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
          deadline,
          signal,
          what,
        );
        wake = undefined;
      }
    } finally {
      closeQuietly(channel);
    }
  }

  #stateCall(
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): { timeoutMs?: number; signal?: AbortSignal } {
    const left = remainingMs(deadline);
    if (left === 0) throw timeoutError(deadline, what);
    const call: { timeoutMs?: number; signal?: AbortSignal } = {};
    if (left !== Number.POSITIVE_INFINITY) call.timeoutMs = left;
    if (signal !== undefined) call.signal = signal;
    return call;
  }

  async #quietly(work: Promise<unknown>, what: string): Promise<void> {
    try {
      await work;
    } catch (error) {
      this.reportError(
        isInfrastructureError(error)
          ? new InfrastructureError(error.code, `${what} failed: ${error.message}`, { cause: error })
          : new InfrastructureError("INTERNAL", `${what} failed`, { cause: error }),
      );
    }
  }

  #endKey(id: string): string {
    return `${this.names.prefix}:end:${id}`;
  }

  /** The epoch's done set: the blocks of its finished jobs (a state with member sets). */
  #doneKey(epoch: string): string {
    return `${this.names.prefix}:done:${epoch}`;
  }

  #epochKey(epoch: string): string {
    return `${this.names.prefix}:epoch:${epoch}`;
  }

  #cancelsKey(epoch: string): string {
    return `${this.names.prefix}:cancels:${epoch}`;
  }

  /**
   * Makes sure this epoch's record lives until `needUntil` (`Date.now()` scale): nothing to
   * do (no promise) while it does; else a write, shared with the enqueues in flight, that gives it
   * `retentionMs` more, so the next one is due about `retentionMs` later. Resolves to the
   * failure, if any (never rejects).
   */
  #recordEpoch(
    needUntil: number,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<unknown> | undefined {
    const epoch = this.#ids.epoch;
    if (epoch !== this.#recordedEpoch) {
      // A new epoch (the issuer rotates): its record is still to write.
      this.#recordedEpoch = epoch;
      this.#epochUntil = 0;
      this.#epochWrite = undefined;
    }
    if (needUntil <= this.#epochUntil) return undefined;
    let write = this.#epochWrite;
    if (write === undefined || write.until < needUntil) {
      const until = needUntil + this.#retentionMs;
      const startedAt = Date.now();
      let done: Promise<void>;
      try {
        // Not tied to this caller's signal: other enqueues wait on it too (each on its own signal).
        const { timeoutMs } = this.#stateCall(deadline, undefined, what);
        done = this.#state.set(this.#epochKey(epoch), this.#ids.key, {
          // Counted by Redis from when it gets the write, so it lives at least until `until`.
          ttlMs: Math.ceil(until - startedAt),
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
      } catch (error) {
        return Promise.resolve(error);
      }
      const current = { until, done };
      this.#epochWrite = current;
      write = current;
      done.then(
        () => {
          if (this.#recordedEpoch === epoch) this.#epochUntil = Math.max(this.#epochUntil, until);
          if (this.#epochWrite === current) this.#epochWrite = undefined;
        },
        () => {
          if (this.#epochWrite === current) this.#epochWrite = undefined;
        },
      );
    }
    return bounded(write.done, deadline, signal, what).then(
      () => undefined,
      (error: unknown) => error,
    );
  }

  /** The key of an epoch, from memory or the state; `undefined` when it has no record. */
  async #epochKeyOf(
    epoch: string,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<string | undefined> {
    if (epoch === this.#ids.epoch) return this.#ids.key;
    const known = this.#epochKeys.get(epoch);
    if (known !== undefined) return known;
    const stored = await this.#state.get(this.#epochKey(epoch), this.#stateCall(deadline, signal, what));
    if (typeof stored !== "string") return undefined;
    if (this.#epochKeys.size >= KNOWN_EPOCHS) this.#epochKeys.clear();
    this.#epochKeys.set(epoch, stored);
    return stored;
  }

  #keyKey(queue: string, keyHash: string): string {
    return `${this.names.prefix}:key:${queue}.${keyHash}`;
  }

  #deadKey(id: string): string {
    return `${this.names.prefix}:dead:${id}`;
  }

  #ensureOpen(): void {
    if (this.#closing !== undefined) throw closedError("the RabbitMQ job queue");
  }

  /** Every RabbitMQ queue name `queue` may use, its idempotency-key queues aside. */
  queueNames(queue: string): string[] {
    validateQueueName(queue);
    return this.names.all(queue);
  }
}

function parseDeadRecord(content: Buffer): DeadRecord | undefined {
  try {
    return asDeadRecord(JSON.parse(content.toString("utf8")));
  } catch {
    return undefined;
  }
}

function asDeadRecord(value: unknown): DeadRecord | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const record = value as Partial<DeadRecord>;
  return typeof record.id === "string" &&
    typeof record.payload === "string" &&
    typeof record.nonce === "string" &&
    typeof record.attempts === "number" &&
    typeof record.maxAttempts === "number"
    ? (record as DeadRecord)
    : undefined;
}

/**
 * A dead letter as listed. A job whose message body was not JSON (put on the queue by something
 * else) is listed with its raw text as a string payload; its error says so.
 */
function toDeadLetter(record: DeadRecord): DeadLetter {
  let payload: JsonValue;
  try {
    payload = decodeJobPayload(record.payload);
  } catch {
    payload = record.payload;
  }
  return {
    id: record.id,
    queue: record.queue,
    payload,
    attempts: record.attempts,
    error: { code: record.error.code, message: record.error.message },
    failedAt: record.failedAt,
  };
}

/**
 * A state-store failure, said as this adapter's call failing. `keepOutcome`: the failed state
 * write was the call's effect (cancel, redrive), so an unknown outcome stays unknown; otherwise
 * nothing was published yet and the call may simply be tried again.
 */
function stateError(error: unknown, message: string, keepOutcome: boolean): InfrastructureError {
  if (!isInfrastructureError(error)) return new InfrastructureError("INTERNAL", message, { cause: error });
  if (error.code === "CLOSED") {
    return new InfrastructureError("UNAVAILABLE", `${message}: the state store is closed`, {
      cause: error,
      retryable: false,
    });
  }
  if (keepOutcome) {
    return new InfrastructureError(error.code, `${message}: ${error.message}`, {
      cause: error,
      retryable: error.retryable,
      details: error.details,
    });
  }
  return new InfrastructureError(error.code, `${message}: ${error.message}`, { cause: error });
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function checkTimeout(value: number, name: string): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  return checkPositive(value, name);
}

function checkPositive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
