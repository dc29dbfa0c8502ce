import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_WORKER_CLOSE_DEADLINE_MS,
  InfrastructureError,
  isFinalJobError,
  type JobDelivery,
  type JobHandler,
  type JobWorker,
  type JsonValue,
  retryDelayMs,
  summarizeJobError,
  type ValidWorkOptions,
  type WorkerCloseOptions,
} from "@proj/ports";
import { type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { encodeFailure } from "./encoding.js";
import { bounded } from "./redis-calls.js";
import { mapRedisError } from "./redis-errors.js";

/** BullMQ's name for the back-off strategy every job of this adapter names. */
export const BACKOFF_TYPE = "proj-jittered";

/**
 * How often BullMQ looks for jobs whose lease ran out (its stalled-job check, shared by every
 * worker of a queue through a lock in Redis): a job is delivered again at most about twice this
 * after `leaseMs` has passed since its last renewal.
 */
export function stalledIntervalMs(leaseMs: number): number {
  return Math.min(500, Math.floor(leaseMs / 2));
}

/** BullMQ waits this long before fetching again after a connection error in its main loop. */
const RUN_RETRY_DELAY_MS = 500;

/** One delivery of one job to this worker's handler. */
class Delivery {
  /** Made on first use: most handlers never look at their signal, and nothing aborts most deliveries. */
  #controller: AbortController | undefined;
  /** When the lease was last known to be held (`performance.now()` scale). */
  renewedAt = performance.now();
  cancelled = false;
  lost = false;
  released = false;
  /** Set while the worker waits for the handler: stops that wait when the delivery is released. */
  onRelease: (() => void) | undefined;

  constructor(
    readonly job: Job,
    readonly token: string,
  ) {}

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  #abort(reason: InfrastructureError): void {
    this.#controller ??= new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** The lease is gone: another worker may hold the job now. */
  lose(message: string): void {
    if (this.lost || this.cancelled || this.released) return;
    this.lost = true;
    this.#abort(new InfrastructureError("UNAVAILABLE", message));
  }

  cancel(): void {
    if (this.cancelled || this.released) return;
    this.cancelled = true;
    this.#abort(
      new InfrastructureError("CANCELLED", `job ${this.job.id} was cancelled`, { retryable: false }),
    );
  }

  /** The worker's close deadline passed: stop waiting for the handler, give the job back. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.#abort(
      new InfrastructureError("CLOSED", `the worker handling job ${this.job.id} closed before it finished`, {
        retryable: false,
      }),
    );
    this.onRelease?.();
  }
}

/** What the handler gets: the signal is made only if the handler asks for it. */
class DeliveryView<P extends JsonValue> implements JobDelivery<P> {
  constructor(
    readonly id: string,
    readonly queue: string,
    readonly payload: P,
    readonly attempt: number,
    readonly maxAttempts: number,
    readonly delivery: Delivery,
  ) {}

  get signal(): AbortSignal {
    return this.delivery.signal;
  }
}

export interface RedisJobWorkerSettings<P extends JsonValue> {
  queue: string;
  handler: JobHandler<P>;
  options: ValidWorkOptions;
  /** The worker's own connection (BullMQ duplicates it for its blocking fetch). Closed with the worker. */
  client: Redis;
  prefix: string;
  /** Deadline of the worker's own calls (release, lease renewal is bounded by its period). */
  timeoutMs: number;
  encodeId(bullId: string): string;
  onError: ((error: InfrastructureError) => void) | undefined;
  /** Called once the worker has closed. */
  onClosed(): void;
}

/**
 * A BullMQ `Worker` run to the `JobQueue` contract: BullMQ fetches, locks, retries (with the port's
 * back-off as its custom strategy) and finds stalled jobs; this class renews the leases itself (so
 * that a renewal it cannot make, or a cancel it finds, fires the handler's signal), counts attempts
 * the port's way, and closes with a deadline.
 */
export class RedisJobWorker<P extends JsonValue> implements JobWorker {
  readonly queue: string;
  readonly #settings: RedisJobWorkerSettings<P>;
  readonly #bull: Worker<P, void, string>;
  readonly #deliveries = new Set<Delivery>();
  readonly #leaseMs: number;
  readonly #renewEveryMs: number;
  readonly #renewTimer: ReturnType<typeof setInterval>;
  #renewing = false;
  #stopping = false;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  constructor(settings: RedisJobWorkerSettings<P>) {
    this.#settings = settings;
    this.queue = settings.queue;
    const { concurrency, leaseMs, backoff, signal } = settings.options;
    this.#leaseMs = leaseMs;
    this.#renewEveryMs = Math.max(1, Math.floor(leaseMs / 3));
    this.#bull = new Worker<P, void, string>(settings.queue, (job, token) => this.#process(job, token), {
      connection: settings.client,
      prefix: settings.prefix,
      concurrency,
      lockDuration: leaseMs,
      // Leases are renewed by #renew, which also looks for cancels and fires the handler's signal.
      skipLockRenewal: true,
      stalledInterval: stalledIntervalMs(leaseMs),
      // Attempts are counted by #process (a lost lease counts), not by BullMQ's stall counter.
      maxStalledCount: 1_000,
      runRetryDelay: RUN_RETRY_DELAY_MS,
      settings: {
        backoffStrategy: (_attemptsMade, _type, _error, job) =>
          retryDelayMs((job as Job).attemptsStarted, backoff),
      },
    });
    this.#bull.on("error", (error) => settings.onError?.(mapRedisError(error, this.#what())));
    this.#renewTimer = setInterval(() => void this.#renew(), this.#renewEveryMs);
    if (signal?.aborted) void this.close();
    else signal?.addEventListener("abort", () => void this.close(), { once: true });
  }

  get running(): number {
    return this.#deliveries.size;
  }

  close(options: WorkerCloseOptions = {}): Promise<void> {
    if (this.#closing === undefined) {
      const deadlineMs = options.deadlineMs ?? DEFAULT_WORKER_CLOSE_DEADLINE_MS;
      if (
        !(
          deadlineMs === Number.POSITIVE_INFINITY ||
          (typeof deadlineMs === "number" && Number.isSafeInteger(deadlineMs) && deadlineMs >= 0)
        )
      ) {
        return Promise.reject(
          new InfrastructureError(
            "INVALID_ARGUMENT",
            `deadlineMs must be a non-negative integer or Infinity, got ${String(deadlineMs)}`,
            { retryable: false },
          ),
        );
      }
      this.#stopping = true;
      this.#closing = this.#shutdown(deadlineMs).finally(() => this.#settings.onClosed());
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #what(): string {
    return `the worker of queue "${this.queue}"`;
  }

  #markKey(bullId: string): string {
    return this.#bull.toKey(`cancelled:${bullId}`);
  }

  async #process(job: Job<P, void, string>, token: string | undefined): Promise<void> {
    const lockToken = token ?? "";
    const attempt = job.attemptsStarted;
    const maxAttempts = job.opts.attempts ?? DEFAULT_MAX_ATTEMPTS;
    if (this.#stopping) {
      // Fetched while the worker was closing: not taken, back to the queue at once.
      await this.#giveBack(job, lockToken);
      throw new WaitingError();
    }
    if (attempt > maxAttempts) {
      // Its last attempt lost its lease (its worker died): a redelivery counts as an attempt.
      throw new UnrecoverableError(
        encodeFailure({
          code: "UNAVAILABLE",
          message: `the lease of the job's last attempt (${maxAttempts} of ${maxAttempts}) was lost`,
          attempts: maxAttempts,
        }),
      );
    }
    // A first delivery was never cancelled while running; a retry or a redelivery may have been.
    // The mark stays until it expires: should this acknowledgement be lost, the next delivery finds it too.
    if (attempt > 1 && (await this.#isMarkedCancelled(job.id ?? ""))) return;
    const delivery = new Delivery(job as Job, lockToken);
    this.#deliveries.add(delivery);
    let failure: unknown;
    let failed = false;
    try {
      const view = new DeliveryView<P>(
        this.#settings.encodeId(job.id ?? ""),
        this.queue,
        job.data,
        attempt,
        maxAttempts,
        delivery,
      );
      let handled: Promise<void>;
      try {
        handled = this.#settings.handler(view);
      } catch (error) {
        handled = Promise.reject(error);
      }
      await new Promise<void>((resolve, reject) => {
        delivery.onRelease = resolve;
        handled.then(resolve, reject);
      });
    } catch (error) {
      failure = error;
      failed = true;
    } finally {
      delivery.onRelease = undefined;
      this.#deliveries.delete(delivery);
      if (this.#deliveries.size === 0) this.#idle?.();
    }
    // Acknowledged without effect: a cancelled job is never delivered again.
    if (delivery.cancelled) return;
    if (delivery.released) {
      await this.#giveBack(job, lockToken);
      throw new WaitingError();
    }
    if (!failed) return;
    const record = encodeFailure({ ...summarizeJobError(failure), attempts: attempt });
    if (isFinalJobError(failure) || attempt >= maxAttempts) throw new UnrecoverableError(record);
    // BullMQ retries it after retryDelayMs (the backoffStrategy above).
    throw new Error(record);
  }

  /** Puts a job this worker holds back on its queue, unacknowledged (its lock released). */
  async #giveBack(job: Job, token: string): Promise<void> {
    try {
      await bounded(job.moveToWait(token), this.#settings.timeoutMs, () => new Error("release timed out"));
    } catch (error) {
      // Redis is out of reach or the lock is gone: the lease runs out and the job is delivered again.
      this.#settings.onError?.(mapRedisError(error, `releasing job ${job.id} by ${this.#what()}`));
    }
  }

  async #isMarkedCancelled(bullId: string): Promise<boolean> {
    try {
      const found = await bounded(
        this.#settings.client.exists(this.#markKey(bullId)),
        this.#settings.timeoutMs,
        () => new Error("cancel check timed out"),
      );
      return found === 1;
    } catch {
      // Unknown: run it; the next lease renewal looks again.
      return false;
    }
  }

  /**
   * Every `leaseMs / 3`: extends the lock of every job this worker runs, and looks for cancels. A
   * lock that cannot be extended (another worker has the job) or that ran out while Redis did not
   * answer fires the handler's signal (`UNAVAILABLE`); a cancel fires it with `CANCELLED`.
   */
  async #renew(): Promise<void> {
    if (this.#renewing || this.#deliveries.size === 0) return;
    this.#renewing = true;
    const startedAt = performance.now();
    try {
      const newest = new Map<string, Delivery>();
      for (const delivery of this.#deliveries) {
        if (delivery.lost || delivery.released) continue;
        if (startedAt - delivery.renewedAt >= this.#leaseMs) {
          delivery.lose(`the lease of job ${delivery.job.id} ran out: Redis did not answer its renewal`);
          continue;
        }
        const id = delivery.job.id ?? "";
        const other = newest.get(id);
        // The same job twice in one worker: the older delivery's lease was lost and it came back.
        if (other !== undefined) other.lose(`job ${id} was delivered again after its lease was lost`);
        newest.set(id, delivery);
      }
      if (newest.size === 0) return;
      const ids = [...newest.keys()];
      const deliveries = [...newest.values()];
      const budget = this.#renewEveryMs;
      const [extended, marks] = await Promise.allSettled([
        bounded(
          this.#bull.extendJobLocks(
            ids,
            deliveries.map((delivery) => delivery.token),
            this.#leaseMs,
          ),
          budget,
          () => new Error("lease renewal timed out"),
        ),
        bounded(
          this.#settings.client.mget(ids.map((id) => this.#markKey(id))),
          budget,
          () => new Error("cancel check timed out"),
        ),
      ]);
      if (extended.status === "fulfilled") {
        const refused = new Set(extended.value);
        for (const delivery of deliveries) {
          if (refused.has(delivery.job.id ?? "")) {
            delivery.lose(
              `the lease of job ${delivery.job.id} was lost: its lock is gone or held by another worker`,
            );
          } else {
            delivery.renewedAt = startedAt;
          }
        }
      } else {
        this.#settings.onError?.(mapRedisError(extended.reason, `lease renewal by ${this.#what()}`));
      }
      if (marks.status === "fulfilled") {
        marks.value.forEach((mark, index) => {
          if (mark !== null) deliveries[index]?.cancel();
        });
      }
    } finally {
      this.#renewing = false;
    }
  }

  async #shutdown(deadlineMs: number): Promise<void> {
    // Stops fetching at once; resolves when BullMQ has finished with the jobs it handed out.
    const bullClosed = this.#bull.close().catch((error: unknown) => {
      this.#settings.onError?.(mapRedisError(error, `closing ${this.#what()}`));
    });
    if (this.#deliveries.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        if (deadlineMs !== Number.POSITIVE_INFINITY) timer = setTimeout(resolve, deadlineMs);
      });
      clearTimeout(timer);
      this.#idle = undefined;
      for (const delivery of [...this.#deliveries]) delivery.release();
    }
    // BullMQ now records the outcomes of the last handlers (acknowledge, retry, release): worth
    // waiting for while Redis answers, pointless when it does not.
    const client = this.#settings.client;
    const grace = client.status === "ready" ? this.#settings.timeoutMs : 0;
    const settled = await bounded(bullClosed, grace, () => new Error("close timed out")).then(
      () => true,
      () => false,
    );
    clearInterval(this.#renewTimer);
    if (settled) {
      await bounded(client.quit(), this.#settings.timeoutMs, () => new Error("quit timed out")).catch(() =>
        client.disconnect(),
      );
    } else {
      // Fails BullMQ's commands still waiting for Redis, so its close can finish.
      client.disconnect();
      await bounded(bullClosed, this.#settings.timeoutMs, () => new Error("close timed out")).catch(
        () => undefined,
      );
    }
  }
}
