import { randomUUID } from "node:crypto";
import {
  closedError,
  DEFAULT_IDEMPOTENCY_WINDOW_MS,
  DEFAULT_MAX_JOB_PAYLOAD_BYTES,
  DEFAULT_WORKER_CLOSE_DEADLINE_MS,
  type DeadLetter,
  decodeJobPayload,
  type EnqueueOptions,
  type EnqueueResult,
  encodeJobPayload,
  InfrastructureError,
  isFinalJobError,
  type JobCallOptions,
  type JobDelivery,
  type JobHandler,
  type JobQueue,
  type JobQueueCapabilities,
  type JobWorker,
  type JsonValue,
  type ListDeadLettersOptions,
  type Page,
  retryDelayMs,
  summarizeJobError,
  type ValidWorkOptions,
  validateDeadLetterPageSize,
  validateEnqueueOptions,
  validateJobCallOptions,
  validateQueueName,
  validateWorkOptions,
  type WorkerCloseOptions,
  type WorkOptions,
} from "@proj/ports";

/** Options of {@link createMemoryJobQueue}. */
export interface MemoryJobQueueOptions {
  /**
   * The largest payload accepted, in UTF-8 bytes of its JSON text (a positive integer, default
   * `DEFAULT_MAX_JOB_PAYLOAD_BYTES`, 256 KiB). Larger ones are `RESOURCE_EXHAUSTED`.
   */
  maxPayloadBytes?: number;
  /**
   * How long an idempotency key is remembered after its first enqueue, in milliseconds (a positive
   * integer, default `DEFAULT_IDEMPOTENCY_WINDOW_MS`, 24 hours).
   */
  idempotencyWindowMs?: number;
  /** The source of the back-off's jitter, returning [0, 1). Default `Math.random`. */
  random?: () => number;
}

type JobState = "ready" | "scheduled" | "running";

/** One delivery of a job to one handler: the in-process lease. */
interface Run {
  job: Job;
  worker: MemoryWorker;
  controller: AbortController;
  /** False once the job is no longer this run's: acknowledged, failed, cancelled or released. */
  current: boolean;
}

interface Job {
  id: string;
  queue: string;
  /** The JSON text, parsed anew for every delivery, so each handler gets a fresh copy. */
  payload: string;
  maxAttempts: number;
  /** Deliveries made in the current set of attempts. */
  attempts: number;
  state: JobState;
  timer: NodeJS.Timeout | undefined;
  run: Run | undefined;
}

interface Dead {
  job: Job;
  seq: number;
  error: { code: string; message: string };
  failedAt: number;
}

interface QueueState {
  /** Jobs waiting for a worker, in arrival order (no order is promised, but none is starved). */
  ready: Set<Job>;
  workers: MemoryWorker[];
  /** Round-robin start among the workers, so each takes a share. */
  turn: number;
  dead: Map<string, Dead>;
  keys: Map<string, { id: string; expiresAt: number }>;
}

/** Node's timers fire at once beyond this (a signed 32-bit count of milliseconds). */
const MAX_TIMER_MS = 2_147_483_647;

const CURSOR = /^[0-9]{1,16}$/;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** A worker of the memory queue; its lease on a job is the `Run` it holds. */
class MemoryWorker implements JobWorker {
  readonly runs = new Set<Run>();
  /** Handlers still running, released ones included until they settle. */
  running = 0;
  taking = true;
  private closing: Promise<void> | undefined;
  private readonly idle = new Set<() => void>();

  constructor(
    readonly queue: string,
    readonly handler: JobHandler<JsonValue>,
    readonly options: ValidWorkOptions,
    private readonly owner: MemoryJobQueue,
  ) {}

  get free(): number {
    return this.taking ? this.options.concurrency - this.running : 0;
  }

  /** Called by the queue when a handler settles. */
  settled(): void {
    this.running -= 1;
    if (this.running === 0) for (const wake of this.idle) wake();
  }

  close(options: WorkerCloseOptions = {}): Promise<void> {
    if (!this.closing) {
      const deadlineMs = options.deadlineMs ?? DEFAULT_WORKER_CLOSE_DEADLINE_MS;
      if (typeof deadlineMs !== "number" || Number.isNaN(deadlineMs) || deadlineMs < 0) {
        return Promise.reject(
          invalid(`deadlineMs must be a non-negative number of milliseconds, got ${String(deadlineMs)}`),
        );
      }
      this.closing = this.stop(deadlineMs).finally(() => this.owner.forget(this));
    }
    return this.closing;
  }

  private async stop(deadlineMs: number): Promise<void> {
    this.taking = false;
    this.owner.detach(this);
    if (this.running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const idle = new Promise<void>((resolve) => {
      wake = resolve;
      this.idle.add(resolve);
    });
    const deadline = new Promise<"deadline">((resolve) => {
      if (deadlineMs <= MAX_TIMER_MS) timer = setTimeout(() => resolve("deadline"), deadlineMs);
    });
    const outcome = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    this.idle.delete(wake);
    if (outcome === "deadline") {
      for (const run of [...this.runs]) {
        this.owner.release(run, closedError(`the worker of queue ${this.queue}`));
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

class MemoryJobQueue implements JobQueue {
  readonly capabilities: JobQueueCapabilities;
  private readonly queues = new Map<string, QueueState>();
  private readonly jobs = new Map<string, Job>();
  /** Dead letters by job id, to find their queue for `redrive`. */
  private readonly deadQueue = new Map<string, string>();
  /** Idempotency keys in the order they expire (one window for all), for sweeping. */
  private readonly keyOrder: Array<{ queue: string; key: string; expiresAt: number }> = [];
  private readonly allWorkers = new Set<MemoryWorker>();
  private deadSeq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly random: () => number;

  constructor(options: MemoryJobQueueOptions) {
    this.capabilities = {
      shared: false,
      idempotencyWindowMs: positiveInteger(
        options.idempotencyWindowMs,
        "idempotencyWindowMs",
        DEFAULT_IDEMPOTENCY_WINDOW_MS,
      ),
      maxPayloadBytes: positiveInteger(
        options.maxPayloadBytes,
        "maxPayloadBytes",
        DEFAULT_MAX_JOB_PAYLOAD_BYTES,
      ),
    };
    this.random = options.random ?? Math.random;
  }

  private state(queue: string): QueueState {
    let state = this.queues.get(queue);
    if (!state) {
      state = { ready: new Set(), workers: [], turn: 0, dead: new Map(), keys: new Map() };
      this.queues.set(queue, state);
    }
    return state;
  }

  private check(what: string, options: JobCallOptions): void {
    if (this.closed) throw closedError("the memory job queue");
    validateJobCallOptions(options, Number.POSITIVE_INFINITY, what);
  }

  async enqueue(queue: string, payload: JsonValue, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.check("enqueue", options);
    validateQueueName(queue);
    const { idempotencyKey, delayMs, maxAttempts } = validateEnqueueOptions(options);
    const text = encodeJobPayload(payload, this.capabilities.maxPayloadBytes);
    const state = this.state(queue);
    const now = Date.now();
    if (idempotencyKey !== undefined) {
      this.sweepKeys(now);
      const earlier = state.keys.get(idempotencyKey);
      if (earlier && earlier.expiresAt > now) return { id: earlier.id, duplicate: true };
    }
    const job: Job = {
      id: randomUUID(),
      queue,
      payload: text,
      maxAttempts,
      attempts: 0,
      state: "scheduled",
      timer: undefined,
      run: undefined,
    };
    this.jobs.set(job.id, job);
    if (idempotencyKey !== undefined) {
      const expiresAt = now + this.capabilities.idempotencyWindowMs;
      state.keys.set(idempotencyKey, { id: job.id, expiresAt });
      this.keyOrder.push({ queue, key: idempotencyKey, expiresAt });
    }
    if (delayMs > 0) this.schedule(job, delayMs);
    else this.makeReady(job);
    return { id: job.id, duplicate: false };
  }

  private sweepKeys(now: number): void {
    let expired = 0;
    while (expired < this.keyOrder.length && this.keyOrder[expired]!.expiresAt <= now) {
      const { queue, key, expiresAt } = this.keyOrder[expired]!;
      const keys = this.queues.get(queue)?.keys;
      if (keys?.get(key)?.expiresAt === expiresAt) keys.delete(key);
      expired += 1;
    }
    if (expired > 0) this.keyOrder.splice(0, expired);
  }

  private schedule(job: Job, delayMs: number): void {
    job.state = "scheduled";
    const dueAt = Date.now() + delayMs;
    const arm = (ms: number) => {
      job.timer = setTimeout(() => {
        job.timer = undefined;
        const left = dueAt - Date.now();
        // A delay past the timer's range is waited out in steps.
        if (left > 0 && ms === MAX_TIMER_MS) arm(Math.min(left, MAX_TIMER_MS));
        else this.makeReady(job);
      }, ms);
    };
    arm(Math.min(delayMs, MAX_TIMER_MS));
  }

  private makeReady(job: Job): void {
    job.state = "ready";
    const state = this.state(job.queue);
    state.ready.add(job);
    this.dispatch(state);
  }

  /** Hands ready jobs to the queue's workers with free slots, taking turns. */
  private dispatch(state: QueueState): void {
    while (state.ready.size > 0) {
      const workers = state.workers;
      let worker: MemoryWorker | undefined;
      for (let i = 0; i < workers.length; i++) {
        const candidate = workers[(state.turn + i) % workers.length]!;
        if (candidate.free > 0) {
          worker = candidate;
          state.turn = (state.turn + i + 1) % workers.length;
          break;
        }
      }
      if (!worker) return;
      const job = state.ready.values().next().value as Job;
      state.ready.delete(job);
      this.start(job, worker);
    }
  }

  private start(job: Job, worker: MemoryWorker): void {
    job.state = "running";
    job.attempts += 1;
    const run: Run = { job, worker, controller: new AbortController(), current: true };
    job.run = run;
    worker.runs.add(run);
    worker.running += 1;
    const delivery: JobDelivery<JsonValue> = {
      id: job.id,
      queue: job.queue,
      payload: decodeJobPayload(job.payload),
      attempt: job.attempts,
      maxAttempts: job.maxAttempts,
      signal: run.controller.signal,
    };
    // Never inside the caller's stack: the handler starts on a later microtask.
    Promise.resolve()
      .then(() => worker.handler(delivery))
      .then(
        () => this.finish(run, undefined, true),
        (error: unknown) => this.finish(run, error, false),
      );
  }

  private finish(run: Run, error: unknown, ok: boolean): void {
    const { job, worker } = run;
    worker.runs.delete(run);
    worker.settled();
    if (run.current) {
      run.current = false;
      job.run = undefined;
      if (ok) this.jobs.delete(job.id);
      else if (isFinalJobError(error) || job.attempts >= job.maxAttempts) this.bury(job, error);
      else this.schedule(job, retryDelayMs(job.attempts, worker.options.backoff, this.random));
    }
    const state = this.queues.get(job.queue);
    if (state) this.dispatch(state);
  }

  /** Ends a run without its handler's verdict (the worker closed past its deadline). */
  release(run: Run, reason: InfrastructureError): void {
    if (!run.current) return;
    run.current = false;
    run.worker.runs.delete(run);
    const { job } = run;
    job.run = undefined;
    run.controller.abort(reason);
    if (job.attempts >= job.maxAttempts) this.bury(job, reason);
    else this.makeReady(job);
  }

  private bury(job: Job, error: unknown): void {
    this.jobs.delete(job.id);
    this.deadSeq += 1;
    this.state(job.queue).dead.set(job.id, {
      job,
      seq: this.deadSeq,
      error: summarizeJobError(error),
      failedAt: Date.now(),
    });
    this.deadQueue.set(job.id, job.queue);
  }

  work<P extends JsonValue = JsonValue>(
    queue: string,
    handler: JobHandler<P>,
    options: WorkOptions = {},
  ): JobWorker {
    if (this.closed) throw closedError("the memory job queue");
    validateQueueName(queue);
    if (typeof handler !== "function") throw invalid("handler must be a function");
    const valid = validateWorkOptions(options);
    const worker = new MemoryWorker(queue, handler as unknown as JobHandler<JsonValue>, valid, this);
    this.allWorkers.add(worker);
    const { signal } = valid;
    if (signal?.aborted) {
      void worker.close();
      return worker;
    }
    signal?.addEventListener("abort", () => void worker.close(), { once: true });
    const state = this.state(queue);
    state.workers.push(worker);
    this.dispatch(state);
    return worker;
  }

  /** Drops a closed worker from the ones `close()` waits for. */
  forget(worker: MemoryWorker): void {
    this.allWorkers.delete(worker);
  }

  /** Takes a closing worker out of the rotation. */
  detach(worker: MemoryWorker): void {
    const state = this.queues.get(worker.queue);
    if (!state) return;
    const at = state.workers.indexOf(worker);
    if (at >= 0) state.workers.splice(at, 1);
    if (state.turn >= state.workers.length) state.turn = 0;
  }

  async cancel(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.check("cancel", options);
    if (typeof id !== "string") throw invalid("job id must be a string");
    const job = this.jobs.get(id);
    if (!job) return false;
    this.jobs.delete(id);
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    this.queues.get(job.queue)?.ready.delete(job);
    const run = job.run;
    if (run?.current) {
      run.current = false;
      job.run = undefined;
      run.controller.abort(
        new InfrastructureError("CANCELLED", `job ${id} was cancelled`, { retryable: false }),
      );
    }
    return true;
  }

  async listDeadLetters(queue: string, options: ListDeadLettersOptions = {}): Promise<Page<DeadLetter>> {
    this.check("listDeadLetters", options);
    validateQueueName(queue);
    const limit = validateDeadLetterPageSize(options);
    let after = 0;
    if (options.after !== undefined) {
      if (typeof options.after !== "string" || !CURSOR.test(options.after)) {
        throw invalid("after must be a cursor returned by listDeadLetters");
      }
      after = Number(options.after);
    }
    const items: DeadLetter[] = [];
    let last = 0;
    let more = false;
    // Insertion order is `seq` order: a dead letter is only ever appended.
    for (const dead of this.queues.get(queue)?.dead.values() ?? []) {
      if (dead.seq <= after) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({
        id: dead.job.id,
        queue,
        payload: decodeJobPayload(dead.job.payload),
        attempts: dead.job.attempts,
        error: { ...dead.error },
        failedAt: dead.failedAt,
      });
      last = dead.seq;
    }
    return more ? { items, nextCursor: String(last) } : { items };
  }

  async redrive(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.check("redrive", options);
    if (typeof id !== "string") throw invalid("job id must be a string");
    const queue = this.deadQueue.get(id);
    if (queue === undefined) return false;
    this.deadQueue.delete(id);
    const state = this.state(queue);
    const dead = state.dead.get(id)!;
    state.dead.delete(id);
    const { job } = dead;
    job.attempts = 0;
    this.jobs.set(id, job);
    this.makeReady(job);
    return true;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.allWorkers].map((worker) => worker.close()));
    for (const job of this.jobs.values()) if (job.timer) clearTimeout(job.timer);
    this.jobs.clear();
    this.queues.clear();
    this.deadQueue.clear();
    this.keyOrder.length = 0;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The in-process reference `JobQueue`: jobs live in this process (`capabilities.shared` false) and
 * are lost when it exits. Delays and back-offs are timers; a worker's lease on a job is held until
 * its handler settles, and a worker closed past its deadline releases the job, which is delivered
 * again (attempt + 1) to another worker. Calls never wait on I/O, so `timeoutMs` is checked but
 * has nothing to bound.
 */
export function createMemoryJobQueue(options: MemoryJobQueueOptions = {}): JobQueue {
  return new MemoryJobQueue(options);
}
