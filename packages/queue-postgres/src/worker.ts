import { randomUUID } from "node:crypto";
import {
  closedError,
  DEFAULT_WORKER_CLOSE_DEADLINE_MS,
  decodeJobPayload,
  InfrastructureError,
  isFinalJobError,
  isInfrastructureError,
  type JobHandler,
  type JobWorker,
  type JsonValue,
  retryDelayMs,
  type SqlDatabase,
  summarizeJobError,
  type ValidWorkOptions,
  type WorkerCloseOptions,
} from "@proj/ports";
import type { WakeSubscription } from "./notifications.js";
import type { JobTables } from "./schema.js";
import {
  type ClaimedRow,
  claimJobs,
  deadLetterJob,
  deleteJobs,
  releaseJobs,
  renewLeases,
  retryJob,
} from "./statements.js";
import { registerWorker } from "./wakeups.js";

/** Jobs one claim statement takes at most, whatever the free concurrency. */
const MAX_CLAIM_BATCH = 100;
/**
 * After a claim that found jobs, an idle worker that other processes cannot wake (no listening
 * connection, or it is down) looks again after 10 ms, then 20, 40, 80… up to the poll interval:
 * their traffic is picked up quickly while it lasts, and an idle queue costs one claim per poll
 * interval. A worker that LISTENs is woken instead and waits the poll interval.
 */
const FAST_POLL_MS = 10;
/** Back-off of a worker whose claims fail (the database is down): 100 ms doubling to 5 s, jittered. */
const CLAIM_RETRY_INITIAL_MS = 100;
const CLAIM_RETRY_MAX_MS = 5_000;

/** What a worker needs from the queue that started it. */
export interface WorkerContext {
  readonly db: SqlDatabase;
  readonly tables: JobTables;
  readonly callTimeoutMs: number;
  readonly pollIntervalMs: number;
  /** Resolves once the tables exist. */
  ready(): Promise<void>;
  /** A failure of the worker's own calls (claim, renewal, acknowledgement), for `onBackgroundError`. */
  report(error: unknown, operation: string, queue: string): void;
  /** Called once the worker has stopped. */
  closed(worker: PostgresJobWorker): void;
  /** Wake-ups from other processes for `queue` while the worker runs. */
  subscribe(queue: string): WakeSubscription;
}

interface Delivery {
  readonly id: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly controller: AbortController;
  /** `performance.now()` by which the lease runs out, as last confirmed by the database. */
  leaseUntil: number;
  /** Given back to the queue by `close()` past its deadline: not to be settled. */
  released: boolean;
}

function leaseLost(id: string, why: string): InfrastructureError {
  return new InfrastructureError("UNAVAILABLE", `the lease of job ${id} was lost: ${why}`);
}

function cancelled(id: string): InfrastructureError {
  return new InfrastructureError("CANCELLED", `job ${id} was cancelled`, { retryable: false });
}

/** Settles like `promise`, or rejects with `TIMEOUT` after `ms` (the late outcome is dropped). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new InfrastructureError("TIMEOUT", `${what} got no answer within ${ms} ms`)),
      ms,
    );
  });
  promise.catch(() => undefined);
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function validateDeadline(options: WorkerCloseOptions): number {
  const { deadlineMs = DEFAULT_WORKER_CLOSE_DEADLINE_MS } = options;
  if (!(typeof deadlineMs === "number" && deadlineMs >= 0 && !Number.isNaN(deadlineMs))) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `deadlineMs must be a non-negative number of milliseconds, got ${String(deadlineMs)}`,
      { retryable: false },
    );
  }
  return deadlineMs;
}

/**
 * One consumer of one queue: a loop that claims due jobs with `FOR UPDATE SKIP LOCKED` while it has
 * free slots and sleeps otherwise (until woken, the poll interval, or the queue's next due job),
 * renews the leases of running jobs every `leaseMs / 3`, and settles each delivery.
 */
export class PostgresJobWorker implements JobWorker {
  readonly queue: string;
  readonly #ctx: WorkerContext;
  readonly #handler: JobHandler;
  readonly #options: ValidWorkOptions;
  /** Leases of this worker carry its token, so no other worker can settle or renew them. */
  readonly #token = randomUUID();
  readonly #active = new Map<string, Delivery>();
  readonly #unregister: () => void;
  readonly #wakeups: WakeSubscription;
  /** Aborted when `close()` stops waiting for an in-flight claim. */
  readonly #claimAbort = new AbortController();
  readonly #loopDone: Promise<void>;
  #stopping = false;
  #woken = false;
  #wakeUp: (() => void) | undefined;
  #idleWaiters: Array<() => void> = [];
  #renewTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  #acks: string[] = [];
  #flushing: Promise<void> | undefined;
  readonly #settling = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  /** Set once `close()` has given up on what still runs: no more renewals. */
  #finished = false;

  constructor(ctx: WorkerContext, queue: string, handler: JobHandler, options: ValidWorkOptions) {
    this.#ctx = ctx;
    this.queue = queue;
    this.#handler = handler;
    this.#options = options;
    this.#unregister = registerWorker(ctx.tables.schema, {
      queue,
      wake: () => this.#wake(),
      cancelled: (id) => this.#active.get(id)?.controller.abort(cancelled(id)),
      recheck: () => this.#recheck(),
    });
    this.#wakeups = ctx.subscribe(queue);
    this.#loopDone = this.#loop().catch((error: unknown) => {
      // Not expected (every call in the loop is guarded), but never an unhandled rejection.
      this.#stopping = true;
      ctx.report(error, "worker loop", queue);
    });
    const { signal } = options;
    if (signal) {
      if (signal.aborted) void this.close();
      else signal.addEventListener("abort", () => void this.close(), { once: true });
    }
  }

  get running(): number {
    return this.#active.size;
  }

  close(options: WorkerCloseOptions = {}): Promise<void> {
    const deadlineMs = validateDeadline(options);
    this.#closing ??= this.#close(deadlineMs);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  /** Sleeps `ms` (forever for Infinity) or until `#wake()`; returns at once if already woken. */
  #sleep(ms: number): Promise<void> {
    if (this.#woken || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), ms) : undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#wakeUp = undefined;
        resolve();
      };
      this.#wakeUp = done;
    });
  }

  async #loop(): Promise<void> {
    const { db, tables, callTimeoutMs, pollIntervalMs } = this.#ctx;
    const { concurrency, leaseMs } = this.#options;
    let failures = 0;
    let idleWaitMs = FAST_POLL_MS;
    while (!this.#stopping) {
      const free = concurrency - this.#active.size;
      if (free <= 0) {
        // A finishing handler wakes the loop; an enqueue seen meanwhile is picked up by the next claim.
        this.#woken = false;
        await this.#sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      this.#woken = false;
      const limit = Math.min(free, MAX_CLAIM_BATCH);
      const sentAt = performance.now();
      let rows: ClaimedRow[];
      try {
        await this.#ctx.ready();
        // In a transaction that commits only once the claimed rows have reached this worker: a
        // claim whose answer is lost (a cut connection) rolls back, so the jobs are due again at
        // once and no attempt is used up by a delivery no handler ever saw.
        rows = await db.transaction(
          (tx) =>
            tx.query<ClaimedRow>(claimJobs(tables, this.queue, limit, this.#token, leaseMs), {
              timeoutMs: callTimeoutMs,
            }),
          // BEGIN, the claim and COMMIT together within the call deadline.
          { signal: AbortSignal.any([this.#claimAbort.signal, AbortSignal.timeout(callTimeoutMs)]) },
        );
        failures = 0;
      } catch (error) {
        if (this.#stopping) break;
        failures++;
        this.#ctx.report(error, "claim", this.queue);
        const ceiling = Math.min(
          CLAIM_RETRY_MAX_MS,
          CLAIM_RETRY_INITIAL_MS * 2 ** Math.min(failures - 1, 16),
        );
        await this.#sleep(ceiling / 2 + Math.random() * (ceiling / 2));
        continue;
      }
      const jobs = rows.filter((row) => row.id !== null);
      if (this.#stopping) {
        // Claimed while close() began: give them straight back, the attempt not counted.
        if (jobs.length > 0) {
          this.#release(
            jobs.map((row) => row.id as string),
            false,
          );
        }
        break;
      }
      // The handlers start once the claim has committed, not while the COMMIT is on its way: a
      // worker that dies after a handler started (SIGKILL, or a crash the job itself causes) has
      // then used up that attempt, so a job that kills its worker still ends as a dead letter.
      for (const row of jobs) this.#start(row, sentAt);
      if (jobs.length > 0) idleWaitMs = this.#wakeups.live() ? pollIntervalMs : FAST_POLL_MS;
      if (jobs.length >= limit) continue;
      const nextInMs = rows.at(-1)?.next_in_ms;
      let wait = Math.min(idleWaitMs, pollIntervalMs);
      if (nextInMs !== null && nextInMs !== undefined)
        wait = Math.min(wait, Math.max(1, Math.ceil(nextInMs)));
      idleWaitMs = Math.min(idleWaitMs * 2, pollIntervalMs);
      await this.#sleep(wait);
    }
  }

  #start(row: ClaimedRow, sentAt: number): void {
    const delivery: Delivery = {
      id: row.id as string,
      attempt: row.attempt as number,
      maxAttempts: row.max_attempts as number,
      controller: new AbortController(),
      leaseUntil: sentAt + this.#options.leaseMs,
      released: false,
    };
    this.#active.set(delivery.id, delivery);
    this.#scheduleRenewal();
    void this.#run(delivery, row.payload as string);
  }

  async #run(delivery: Delivery, payloadText: string): Promise<void> {
    let ok = false;
    let failure: unknown;
    if (delivery.attempt > delivery.maxAttempts) {
      // Its last attempt's worker died or stalled past the lease: the attempts are used up.
      failure = new InfrastructureError(
        "UNAVAILABLE",
        `the lease of job ${delivery.id}'s last attempt ran out (its worker died or stalled)`,
      );
    } else {
      try {
        const payload: JsonValue = decodeJobPayload(payloadText);
        await this.#handler({
          id: delivery.id,
          queue: this.queue,
          payload,
          attempt: delivery.attempt,
          maxAttempts: delivery.maxAttempts,
          signal: delivery.controller.signal,
        });
        ok = true;
      } catch (error) {
        failure = error;
      }
    }
    this.#active.delete(delivery.id);
    this.#wake();
    if (this.#active.size === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    if (delivery.released) return;
    const reason: unknown = delivery.controller.signal.aborted
      ? delivery.controller.signal.reason
      : undefined;
    if (isInfrastructureError(reason, "CANCELLED")) {
      this.#track(this.#settle(deleteJobs(this.#ctx.tables, [delivery.id], this.#token), "delete cancelled"));
    } else if (ok) {
      this.#ack(delivery.id);
    } else if (isFinalJobError(failure) || delivery.attempt >= delivery.maxAttempts) {
      const statement = deadLetterJob(
        this.#ctx.tables,
        delivery.id,
        this.#token,
        delivery.attempt,
        summarizeJobError(failure),
      );
      this.#track(this.#settle(statement, "dead-letter"));
    } else {
      const delayMs = retryDelayMs(delivery.attempt, this.#options.backoff);
      const statement = retryJob(this.#ctx.tables, delivery.id, this.#token, delivery.attempt, delayMs);
      this.#track(this.#settle(statement, "retry"));
    }
  }

  async #settle(statement: Parameters<SqlDatabase["execute"]>[0], operation: string): Promise<void> {
    try {
      await this.#ctx.db.execute(statement, { timeoutMs: this.#ctx.callTimeoutMs });
    } catch (error) {
      // The lease runs out and the job is delivered again: at least once, never lost.
      this.#ctx.report(error, operation, this.queue);
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#settling.add(promise);
    void promise.finally(() => this.#settling.delete(promise));
  }

  /** Acknowledgements are sent in batches: one in flight, the rest gathered meanwhile. */
  #ack(id: string): void {
    this.#acks.push(id);
    this.#flushing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    while (this.#acks.length > 0) {
      const ids = this.#acks.splice(0);
      await this.#settle(deleteJobs(this.#ctx.tables, ids, this.#token), "acknowledge");
    }
    this.#flushing = undefined;
  }

  #release(ids: string[], countAttempt: boolean): void {
    this.#track(this.#settle(releaseJobs(this.#ctx.tables, ids, this.#token, countAttempt), "release"));
  }

  #scheduleRenewal(): void {
    if (this.#finished || this.#renewTimer !== undefined || this.#renewing !== undefined) return;
    this.#renewTimer = setTimeout(
      () => {
        this.#renewTimer = undefined;
        this.#startRenewal(Promise.resolve());
      },
      Math.floor(this.#options.leaseMs / 3),
    );
  }

  /** Whether a running job still holds its lease (not released at close). */
  #holdsLeases(): boolean {
    for (const delivery of this.#active.values()) if (!delivery.released) return true;
    return false;
  }

  /** Renews after `after`, then schedules the next renewal while jobs still run. */
  #startRenewal(after: Promise<void>): void {
    const renewing: Promise<void> = after
      .then(() => this.#renew())
      .finally(() => {
        if (this.#renewing !== renewing) return;
        this.#renewing = undefined;
        if (this.#holdsLeases()) this.#scheduleRenewal();
      });
    this.#renewing = renewing;
  }

  /**
   * A renewal now instead of at its time (it also reads the cancels): this process's cancel
   * listener has just come up, so a cancel sent before it reached nobody. One already in flight
   * may have been read before the cancel: this one follows it.
   */
  #recheck(): void {
    if (this.#finished) return;
    if (!this.#holdsLeases()) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    this.#startRenewal(this.#renewing ?? Promise.resolve());
  }

  async #renew(): Promise<void> {
    const { leaseMs } = this.#options;
    const held = [...this.#active.values()].filter((d) => !d.released && !d.controller.signal.aborted);
    if (held.length === 0) return;
    const sentAt = performance.now();
    try {
      const budgetMs = Math.max(1, Math.floor(leaseMs / 3));
      const renewal = this.#ctx.db.query<{ id: string; attempt: number; cancelled: boolean }>(
        renewLeases(
          this.#ctx.tables,
          held.map((d) => d.id),
          this.#token,
          leaseMs,
        ),
        { timeoutMs: budgetMs },
      );
      // The driver may take its cancel grace on top of the deadline: stop waiting at the deadline.
      const rows = await within(renewal, budgetMs, "lease renewal");
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const delivery of held) {
        const row = byId.get(delivery.id);
        if (row === undefined || row.attempt !== delivery.attempt) {
          delivery.controller.abort(leaseLost(delivery.id, "another worker holds it, or it is gone"));
        } else if (row.cancelled) {
          delivery.controller.abort(cancelled(delivery.id));
        } else {
          delivery.leaseUntil = sentAt + leaseMs;
        }
      }
    } catch (error) {
      this.#ctx.report(error, "renew leases", this.queue);
      // Not renewed: a delivery whose lease will have run out before the next try must stop now.
      const cutoff = performance.now() + leaseMs / 3;
      for (const delivery of held) {
        if (delivery.leaseUntil <= cutoff && !delivery.controller.signal.aborted) {
          delivery.controller.abort(leaseLost(delivery.id, "the lease could not be renewed"));
        }
      }
    }
  }

  #untilIdle(): Promise<void> {
    if (this.#active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #close(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    this.#wakeUp?.();
    const deadline = performance.now() + deadlineMs;
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<"late">((resolve) => {
      if (Number.isFinite(deadlineMs)) timer = setTimeout(() => resolve("late"), deadlineMs);
    });
    try {
      if ((await Promise.race([this.#loopDone.then(() => "done" as const), timeUp])) === "late") {
        this.#claimAbort.abort(closedError("job worker"));
        await this.#loopDone;
      }
      const outcome = await Promise.race([this.#untilIdle().then(() => "idle" as const), timeUp]);
      if (outcome === "late" || performance.now() > deadline) {
        const left = [...this.#active.values()].filter((d) => !d.released);
        for (const delivery of left) {
          delivery.released = true;
          delivery.controller.abort(
            new InfrastructureError(
              "CLOSED",
              `the worker of queue ${this.queue} closed before job ${delivery.id} finished`,
              {
                retryable: false,
              },
            ),
          );
        }
        if (left.length > 0)
          this.#release(
            left.map((d) => d.id),
            true,
          );
      }
    } finally {
      clearTimeout(timer);
    }
    this.#finished = true;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    await this.#renewing;
    await this.#flushing;
    await Promise.all([...this.#settling]);
    this.#unregister();
    this.#wakeups.stop();
    this.#ctx.closed(this);
  }
}
