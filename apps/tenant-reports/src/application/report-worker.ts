import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ErrorCode,
  InfrastructureError,
  isFinalJobError,
  isInfrastructureError,
  type JobDelivery,
  type JobQueue,
  type JobWorker,
  type ObjectStorage,
  type OperationOptions,
  type ReportGenerator,
  type RetryBackoff,
  type TenantRepository,
} from "@proj/ports";
import type { OrderStore } from "./orders.js";
import { reportKey, writeReport } from "./report-generation.js";
import type { ReportRecord, ReportStore } from "./report-store.js";
import { enqueueReport, REPORT_QUEUE, type ReportJob } from "./reports.js";

/**
 * Removes what a put killed midway left under `key` (on S3: its unfinished multipart uploads, kept
 * and billed until aborted). Resolves with how many it removed. Supplied by the composition root
 * for storages that leave such things; a worker taking over a report from a dead one calls it.
 */
export type StrayUploadCleaner = (key: string, options: OperationOptions) => Promise<number>;

export interface ReportWorkerDependencies {
  queue: JobQueue;
  reports: ReportStore;
  orders: OrderStore;
  storage: ObjectStorage;
  generator: ReportGenerator;
  /** Read before each report: a tenant suspended since the request gets no report. */
  tenants: TenantRepository;
  strayUploads?: StrayUploadCleaner;
}

export interface ReportWorkerOptions {
  /** Reports made at once by this worker. */
  concurrency: number;
  /** The job's lease and the report's claim: how long a dead worker holds a report. */
  leaseMs: number;
  /** `maxAttempts` of jobs this worker enqueues again (see `sweep`). */
  maxAttempts: number;
  /** `host:pid`, recorded with each claim. */
  name: string;
  backoff?: RetryBackoff;
  /** How often `sweep` runs (0: never on its own). */
  sweepIntervalMs: number;
  /** Age from which a queued or abandoned report counts as stale for the periodic sweep. */
  staleAfterMs: number;
  /** Lines for the operator: failed reports, takeovers, sweeps that found something. */
  log?: (line: string) => void;
}

function codeOf(error: unknown): ErrorCode {
  return isInfrastructureError(error) ? error.code : "INTERNAL";
}

function parseJob(payload: unknown): string {
  const reportId = (payload as Partial<ReportJob> | null)?.reportId;
  if (typeof reportId !== "string" || reportId.length === 0 || reportId.length > 36) {
    throw new InfrastructureError("INVALID_ARGUMENT", "a report job names no report");
  }
  return reportId;
}

/**
 * Takes report jobs from the queue and makes the reports: claims the report's record (one worker
 * at a time, a fencing token with a lease renewed while it runs), streams the tenant's orders
 * through the generator into object storage, and marks the report done with its size and row
 * count, or failed with the taxonomy code.
 *
 * - A job delivered again after its report is done or failed is acknowledged without a second
 *   put: the record says the work is over.
 * - A job delivered while another worker holds a live claim waits for that claim to end (it was
 *   finished, released, or ran out because its worker died), then acts on what it finds.
 * - Taking over from a dead worker, it first removes what that worker may have left under the
 *   report's key (an unfinished multipart upload, an object stored before the worker could mark
 *   the report done), then makes the report again; where the storage can, the put is conditional
 *   (`ifNoneMatch`), so a stalled worker that wakes up cannot overwrite it.
 * - A retryable failure gives the claim back (the job retries after its back-off); a final one,
 *   or the job's last attempt, fails the report. A delivery whose signal fired (lease lost, worker
 *   closing) gives the claim back and lets the queue deliver the job again.
 */
export class ReportWorker {
  #worker: JobWorker | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  readonly #running = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(
    private readonly deps: ReportWorkerDependencies,
    private readonly options: ReportWorkerOptions,
  ) {}

  /** Starts taking jobs (and sweeping, when `sweepIntervalMs` > 0). */
  start(): void {
    if (this.#worker !== undefined) return;
    this.#worker = this.deps.queue.work<ReportJob>(
      REPORT_QUEUE,
      (job) => {
        const handled = this.handle(job);
        this.#running.add(handled);
        handled.then(
          () => this.#running.delete(handled),
          () => this.#running.delete(handled),
        );
        return handled;
      },
      {
        concurrency: this.options.concurrency,
        leaseMs: this.options.leaseMs,
        ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      },
    );
    if (this.options.sweepIntervalMs > 0) {
      this.#sweeper = setInterval(() => {
        this.sweep(this.options.staleAfterMs).catch((error: unknown) =>
          this.#log(`report sweep failed (${codeOf(error)})`),
        );
      }, this.options.sweepIntervalMs);
      this.#sweeper.unref();
    }
  }

  /** Reports being made now. */
  get running(): number {
    return this.#worker?.running ?? 0;
  }

  /**
   * Enqueues again the jobs of reports that may have lost theirs, keyed by the report id (a job
   * still waiting or running makes this a duplicate, nothing more): reports queued for longer than
   * `olderThanMs` (the API process died between recording and enqueuing, or the memory queue was
   * restarted), and reports whose claim ran out `olderThanMs` ago (their job was dead-lettered
   * when its last attempt's worker died: it is redriven). Resolves with how many it enqueued or
   * redrove.
   */
  async sweep(olderThanMs: number, options: OperationOptions = {}): Promise<number> {
    const stale = await this.deps.reports.stale({ olderThanMs, limit: 100 }, options);
    let moved = 0;
    for (const id of stale) {
      const job = await enqueueReport(this.deps.queue, id, this.options.maxAttempts);
      if (!job.duplicate || (await this.deps.queue.redrive(job.id, options))) moved++;
    }
    if (moved > 0) this.#log(`report sweep: ${moved} job(s) of stale reports enqueued again`);
    return moved;
  }

  /** One delivery of one report job (exposed for tests; the queue calls it). */
  async handle(job: JobDelivery<ReportJob>): Promise<void> {
    const reportId = parseJob(job.payload);
    const token = randomUUID();
    const record = await this.#claim(reportId, token, job.signal);
    if (record === undefined) return;

    const lost = new AbortController();
    const signal = AbortSignal.any([job.signal, lost.signal]);
    const stopRenewing = this.#renewWhileRunning(reportId, token, lost, signal);
    try {
      const result = await this.#make(record, signal);
      stopRenewing();
      const completed = await this.deps.reports.complete(reportId, token, result, { signal: job.signal });
      // The claim ran out while the report was written and another worker took it over: that
      // worker's delivery finishes the report (and replaces what this one stored).
      if (!completed) this.#log(`report ${reportId}: claim lost before completion, left to its new holder`);
    } catch (error) {
      stopRenewing();
      const interrupted = signal.aborted;
      const code = codeOf(error);
      if (!interrupted && (isFinalJobError(error) || job.attempt >= job.maxAttempts)) {
        await this.deps.reports.fail(reportId, token, code);
        this.#log(`report ${reportId}: failed (${code}) at attempt ${job.attempt}`);
        return;
      }
      // Another delivery will make it: give the claim back at once rather than after its lease.
      await this.deps.reports.release(reportId, token, code).catch(() => undefined);
      throw error;
    }
  }

  /** The report's record once this delivery holds its claim; undefined when there is nothing to do. */
  async #claim(reportId: string, token: string, signal: AbortSignal): Promise<ReportRecord | undefined> {
    const request = { token, worker: this.options.name, leaseMs: this.options.leaseMs };
    const pollMs = Math.max(50, Math.min(1_000, Math.floor(this.options.leaseMs / 4)));
    for (;;) {
      const outcome = await this.deps.reports.claim(reportId, request, { signal });
      switch (outcome.kind) {
        case "claimed":
          if (outcome.record.attempts > 1)
            this.#log(`report ${reportId}: attempt ${outcome.record.attempts} (taken over or retried)`);
          return outcome.record;
        case "finished":
          return undefined;
        case "missing":
          this.#log(`report ${reportId}: a job for a report with no record, dropped`);
          return undefined;
        case "held":
          // Its holder is alive (it renews) or its claim runs out within the lease.
          await sleep(pollMs, undefined, { signal }).catch(() => {
            throw signal.reason;
          });
      }
    }
  }

  /** Renews the claim every `leaseMs / 3`; aborts `lost` when it is taken or cannot be renewed in time. */
  #renewWhileRunning(
    reportId: string,
    token: string,
    lost: AbortController,
    signal: AbortSignal,
  ): () => void {
    const { leaseMs } = this.options;
    let renewedAt = Date.now();
    let renewing = false;
    const timer = setInterval(
      () => {
        if (renewing || signal.aborted) return;
        renewing = true;
        this.deps.reports
          .renew(reportId, token, leaseMs, { signal })
          .then(
            (held) => {
              if (held) renewedAt = Date.now();
              else
                lost.abort(
                  new InfrastructureError("UNAVAILABLE", `the claim on report ${reportId} was taken over`),
                );
            },
            () => {
              // The database may come back in time; past two thirds of the lease the claim may be gone.
              if (Date.now() - renewedAt > (leaseMs * 2) / 3)
                lost.abort(
                  new InfrastructureError(
                    "UNAVAILABLE",
                    `the claim on report ${reportId} could not be renewed`,
                  ),
                );
            },
          )
          .finally(() => {
            renewing = false;
          });
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    return () => clearInterval(timer);
  }

  async #make(
    record: ReportRecord,
    signal: AbortSignal,
  ): Promise<{ objectKey: string; rowCount: number; byteSize: number }> {
    const tenant = await this.deps.tenants.getById(record.tenantId, { signal });
    if (tenant.status !== "active") {
      throw new InfrastructureError("PERMISSION_DENIED", `tenant ${tenant.slug} is ${tenant.status}`);
    }
    const key = reportKey(record.tenantId, record.id, record.format);
    if (record.attempts > 1) {
      // An earlier attempt may have died mid-upload or after storing, before marking it done.
      await this.deps.strayUploads?.(key, { signal });
      await this.deps.storage.delete(key, { signal });
    }
    const conditional = this.deps.storage.capabilities.conditionalPut;
    try {
      const result = await writeReport(this.deps.orders, this.deps.storage, this.deps.generator, {
        tenant,
        format: record.format,
        key,
        signal,
        ...(conditional ? { ifNoneMatch: "*" as const } : {}),
      });
      return { objectKey: key, rowCount: result.rowCount, byteSize: result.byteSize };
    } catch (error) {
      if (conditional && isInfrastructureError(error, "CONFLICT")) {
        // A stalled former holder stored it meanwhile: try again later, from a clean slate.
        throw new InfrastructureError("CONFLICT", `report ${record.id}: an object appeared under its key`, {
          cause: error,
          retryable: true,
        });
      }
      throw error;
    }
  }

  /**
   * Stops taking jobs, lets running reports finish for up to `deadlineMs`, then aborts them: each
   * gives its claim back and its job is released, so another worker makes it. Idempotent.
   */
  close(options: { deadlineMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
      await this.#worker?.close(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs });
      // The handlers' last writes (giving a claim back) run before the database closes.
      await Promise.race([Promise.allSettled([...this.#running]), sleep(5_000, undefined, { ref: false })]);
    })();
    return this.#closing;
  }

  #log(line: string): void {
    this.options.log?.(line);
  }
}
