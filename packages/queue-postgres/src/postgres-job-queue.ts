import { randomUUID } from "node:crypto";
import {
  abortable,
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
  type Page,
  type SqlDatabase,
  type SqlQueryOptions,
  validateDeadLetterPageSize,
  validateEnqueueOptions,
  validateJobCallOptions,
  validateQueueName,
  validateWorkOptions,
  type WorkOptions,
} from "@proj/ports";
import { QueueNotifications } from "./notifications.js";
import { type JobTables, jobTables, migrateJobTables } from "./schema.js";
import {
  cancelJob,
  type DeadLetterRow,
  deleteCancelledWaiting,
  insertJob,
  insertJobWithKey,
  listDeadLetters,
  purgeCancelled,
  purgeKeys,
  redriveJob,
} from "./statements.js";
import { PostgresJobWorker, type WorkerContext } from "./worker.js";

/** Deadline of every call unless it passes its own `timeoutMs`. */
export const DEFAULT_JOB_CALL_TIMEOUT_MS = 10_000;
/** How often an idle worker looks for jobs enqueued by other processes. */
export const DEFAULT_POLL_INTERVAL_MS = 200;
/** How often old idempotency keys and finished cancelled jobs are purged. */
export const DEFAULT_MAINTENANCE_INTERVAL_MS = 60_000;
/** Rows one purge statement deletes at most. */
const PURGE_BATCH = 5_000;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CURSOR = /^[1-9][0-9]{0,17}$/;

/** Where a worker's background call failed. */
export interface BackgroundErrorContext {
  /** The worker's queue, or `undefined` for the queue-wide maintenance. */
  queue: string | undefined;
  /**
   * `claim`, `renew leases`, `acknowledge`, `retry`, `dead-letter`, `release`, `delete cancelled`,
   * `maintenance`, `notify` (a wake-up notification was not sent: other processes' workers find
   * the job at their next poll), `listen` (a listening connection was lost or could not be set up:
   * until it is back, workers here find jobs by polling), or `worker loop` (a bug: the worker
   * stopped).
   */
  operation: string;
}

export interface PostgresJobQueueOptions {
  /**
   * The PostgreSQL schema that holds this queue set's tables (`jobs`, `dead_letters`,
   * `idempotency_keys`, `migrations`). Every adapter configured with the same schema on the same
   * database shares the same queues. Default `"proj_jobs"`.
   */
  schema?: string;
  /**
   * Create the schema and apply pending migrations on first use (default `true`). With `false`,
   * call `migrate()` yourself (at deploy time, with a role allowed to run DDL) before use.
   */
  migrate?: boolean;
  /**
   * Deadline of every call unless it passes `timeoutMs`, and of a worker's own calls (claims,
   * acknowledgements). Default 10,000 ms. `Infinity`: calls have none; a worker's calls keep 10 s.
   */
  timeoutMs?: number;
  /**
   * How often an idle worker looks for jobs (default 200 ms). Jobs enqueued, redriven or retried
   * in this process wake its workers at once, and so do those of other processes through
   * LISTEN/NOTIFY when the database offers `listen()`; a job whose wake-up was missed (no `listen()`,
   * a listening connection down, `notify: false` at the sender) waits at most this long, plus one
   * claim round trip. A worker that learns of a job due sooner (delayed, retried, or
   * a lease running out) sleeps only until then.
   */
  pollIntervalMs?: number;
  /** How long an idempotency key is remembered (default 24 hours). Older keys are purged. */
  idempotencyWindowMs?: number;
  /** Largest payload in UTF-8 bytes of its JSON text (default 256 KiB). */
  maxPayloadBytes?: number;
  /** How often expired idempotency keys and ended cancelled jobs are purged (default 60,000 ms). */
  maintenanceIntervalMs?: number;
  /** Close the database when the queue closes (default `false`: whoever made it closes it). */
  closeDatabase?: boolean;
  /**
   * Send a PostgreSQL notification (`pg_notify`) when a job is enqueued or redriven (one per queue
   * per round trip, however many jobs) and when a running job is cancelled, so that workers in other
   * processes wake at once instead of at their next poll. Default `true`. Workers listen whenever
   * the database offers `listen()` (`capabilities.notifications`), whatever this says.
   */
  notify?: boolean;
  /**
   * Failures of calls made in the background (a worker's claims while the database is down,
   * lease renewals, acknowledgements, maintenance). The worker keeps going: it retries claims with
   * a back-off, and a job it could not settle is delivered again when its lease runs out. Default:
   * ignored.
   */
  onBackgroundError?: (error: InfrastructureError, context: BackgroundErrorContext) => void;
}

/** A `JobQueue` on PostgreSQL, with its schema management. */
export interface PostgresJobQueue extends JobQueue {
  /** The schema holding this queue set's tables. */
  readonly schema: string;
  /**
   * Creates the schema and applies pending migrations now (idempotent; concurrent callers in other
   * processes wait on an advisory lock). Returns the versions it applied.
   */
  migrate(options?: JobCallOptions): Promise<number[]>;
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === "number" && Number.isSafeInteger(value) && value > 0)) {
    throw invalid(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function asTaxonomyError(error: unknown): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  return new InfrastructureError("INTERNAL", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/** A call's deadline, shared by the statements it makes. */
class CallDeadline {
  readonly #end: number;
  readonly #signal: AbortSignal | undefined;
  readonly #what: string;

  constructor(timeoutMs: number, signal: AbortSignal | undefined, what: string) {
    this.#end = performance.now() + timeoutMs;
    this.#signal = signal;
    this.#what = what;
  }

  /** Options for the next statement: what is left of the deadline. */
  options(): SqlQueryOptions {
    if (!Number.isFinite(this.#end)) return { timeoutMs: Number.POSITIVE_INFINITY, signal: this.#signal };
    const left = Math.floor(this.#end - performance.now());
    if (left < 1) throw new InfrastructureError("TIMEOUT", `${this.#what} ran out of time`);
    return { timeoutMs: left, signal: this.#signal };
  }

  /** Waits for `promise` within the deadline and the signal. */
  within<T>(promise: Promise<T>): Promise<T> {
    const signals: AbortSignal[] = [];
    if (this.#signal) signals.push(this.#signal);
    if (Number.isFinite(this.#end)) {
      signals.push(AbortSignal.timeout(Math.max(1, Math.floor(this.#end - performance.now()))));
    }
    return abortable(promise, signals.length === 0 ? undefined : AbortSignal.any(signals), this.#what);
  }
}

class PostgresJobQueueImpl implements PostgresJobQueue {
  readonly schema: string;
  readonly capabilities: JobQueueCapabilities;
  readonly #db: SqlDatabase;
  readonly #tables: JobTables;
  readonly #timeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #windowMs: number;
  readonly #maxPayloadBytes: number;
  readonly #maintenanceIntervalMs: number;
  readonly #autoMigrate: boolean;
  readonly #closeDatabase: boolean;
  readonly #onBackgroundError: PostgresJobQueueOptions["onBackgroundError"];
  readonly #workers = new Set<PostgresJobWorker>();
  readonly #context: WorkerContext;
  readonly #notifications: QueueNotifications;
  /** Inserts of `enqueue` without a key in flight. */
  #enqueuing = 0;
  #ready: Promise<void> | undefined;
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(db: SqlDatabase, options: PostgresJobQueueOptions) {
    if (db === null || typeof db !== "object" || typeof db.query !== "function") {
      throw invalid(
        "createPostgresJobQueue needs a SqlDatabase (createPostgresDatabase from @proj/adapter-postgres)",
      );
    }
    if (db.dialect?.name !== "postgres") {
      throw new InfrastructureError(
        "NOT_SUPPORTED",
        `@proj/queue-postgres runs on PostgreSQL; this SqlDatabase speaks ${String(db.dialect?.name)}`,
        { retryable: false },
      );
    }
    const schema = options.schema ?? "proj_jobs";
    if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
      throw invalid(`schema must be 1-63 of A-Z a-z 0-9 _, not starting with a digit, got ${String(schema)}`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_JOB_CALL_TIMEOUT_MS;
    if (!(timeoutMs === Number.POSITIVE_INFINITY || (Number.isSafeInteger(timeoutMs) && timeoutMs > 0))) {
      throw invalid(`timeoutMs must be a positive integer or Infinity, got ${String(timeoutMs)}`);
    }
    this.#db = db;
    this.schema = schema;
    this.#tables = jobTables(schema);
    this.#timeoutMs = timeoutMs;
    this.#pollIntervalMs = positiveInteger(
      "pollIntervalMs",
      options.pollIntervalMs,
      DEFAULT_POLL_INTERVAL_MS,
    );
    this.#windowMs = positiveInteger(
      "idempotencyWindowMs",
      options.idempotencyWindowMs,
      DEFAULT_IDEMPOTENCY_WINDOW_MS,
    );
    this.#maxPayloadBytes = positiveInteger(
      "maxPayloadBytes",
      options.maxPayloadBytes,
      DEFAULT_MAX_JOB_PAYLOAD_BYTES,
    );
    this.#maintenanceIntervalMs = positiveInteger(
      "maintenanceIntervalMs",
      options.maintenanceIntervalMs,
      DEFAULT_MAINTENANCE_INTERVAL_MS,
    );
    this.#autoMigrate = options.migrate ?? true;
    this.#closeDatabase = options.closeDatabase ?? false;
    this.#onBackgroundError = options.onBackgroundError;
    this.capabilities = Object.freeze({
      shared: true,
      idempotencyWindowMs: this.#windowMs,
      maxPayloadBytes: this.#maxPayloadBytes,
    });
    this.#notifications = new QueueNotifications(db, schema, {
      send: options.notify ?? true,
      timeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : DEFAULT_JOB_CALL_TIMEOUT_MS,
      report: (error, operation, queue) => this.#report(error, { queue, operation }),
    });
    const notifications = this.#notifications;
    this.#context = {
      db,
      tables: this.#tables,
      callTimeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : DEFAULT_JOB_CALL_TIMEOUT_MS,
      pollIntervalMs: this.#pollIntervalMs,
      ready: () => this.#ensureReady(),
      report: (error, operation, queue) => this.#report(error, { queue, operation }),
      closed: (worker) => this.#workers.delete(worker),
      subscribe: (queue) => notifications.subscribe(queue),
    };
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw closedError(`job queue (${what})`);
  }

  #report(error: unknown, context: BackgroundErrorContext): void {
    if (!this.#onBackgroundError) return;
    try {
      this.#onBackgroundError(asTaxonomyError(error), context);
    } catch {
      // A listener's own failure must not stop a worker.
    }
  }

  /** The tables exist (migrated once per instance, on first use), and maintenance runs. */
  #ensureReady(): Promise<void> {
    if (this.#ready) return this.#ready;
    const started = this.#autoMigrate
      ? migrateJobTables(this.#db, this.#tables, { timeoutMs: this.#context.callTimeoutMs }).then(
          () => undefined,
        )
      : Promise.resolve();
    this.#ready = started.then(
      () => this.#startMaintenance(),
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  #startMaintenance(): void {
    if (this.#closed || this.#maintenanceTimer) return;
    this.#maintenanceTimer = setInterval(() => {
      this.#maintaining ??= this.#maintain().finally(() => {
        this.#maintaining = undefined;
      });
    }, this.#maintenanceIntervalMs);
    this.#maintenanceTimer.unref();
  }

  async #maintain(): Promise<void> {
    const options = { timeoutMs: this.#context.callTimeoutMs };
    try {
      await this.#db.execute(purgeKeys(this.#tables, this.#windowMs, PURGE_BATCH), options);
      await this.#db.execute(purgeCancelled(this.#tables, PURGE_BATCH), options);
    } catch (error) {
      this.#report(error, { queue: undefined, operation: "maintenance" });
    }
  }

  async migrate(options: JobCallOptions = {}): Promise<number[]> {
    this.#assertOpen("migrate");
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "migrate");
    const call = new CallDeadline(timeoutMs, options.signal, "migrate");
    const applied = await call.within(
      migrateJobTables(this.#db, this.#tables, {
        timeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : DEFAULT_JOB_CALL_TIMEOUT_MS,
        signal: options.signal,
      }),
    );
    this.#ready ??= Promise.resolve().then(() => this.#startMaintenance());
    return applied;
  }

  async enqueue(queue: string, payload: JsonValue, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.#assertOpen("enqueue");
    validateQueueName(queue);
    const text = encodeJobPayload(payload, this.#maxPayloadBytes);
    const { idempotencyKey, delayMs, maxAttempts } = validateEnqueueOptions(options);
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "enqueue");
    const call = new CallDeadline(timeoutMs, options.signal, "enqueue");
    await call.within(this.#ensureReady());
    const job = { id: randomUUID(), queue, payload: text, maxAttempts, delayMs };
    let result: EnqueueResult;
    let notified = false;
    if (idempotencyKey === undefined) {
      // Alone in flight, the insert carries its own NOTIFY: no round trip between the commit and the
      // wake-up. With other enqueues in flight it does not, since PostgreSQL serialises the commits
      // of notifying transactions (a lock from pre-commit to the end of the commit, its WAL flush
      // included): they get one coalesced notification after their inserts instead (`wake`).
      const notification = this.#enqueuing === 0 ? this.#notifications.inline(queue) : undefined;
      this.#enqueuing += 1;
      try {
        await this.#db.execute(insertJob(this.#tables, job, notification), call.options());
      } finally {
        this.#enqueuing -= 1;
      }
      notified = notification !== undefined;
      result = { id: job.id, duplicate: false };
    } else {
      const row = await this.#db.queryOne<{ id: string }>(
        insertJobWithKey(this.#tables, job, idempotencyKey, this.#windowMs),
        call.options(),
      );
      if (row === undefined) throw new InfrastructureError("INTERNAL", "enqueue with a key returned no row");
      result = { id: row.id, duplicate: row.id !== job.id };
    }
    if (!result.duplicate) this.#notifications.wake(queue, notified);
    return result;
  }

  work<P extends JsonValue = JsonValue>(
    queue: string,
    handler: JobHandler<P>,
    options: WorkOptions = {},
  ): JobWorker {
    this.#assertOpen("work");
    validateQueueName(queue);
    if (typeof handler !== "function") throw invalid("handler must be a function");
    const valid = validateWorkOptions(options);
    const worker = new PostgresJobWorker(this.#context, queue, handler as JobHandler, valid);
    this.#workers.add(worker);
    return worker;
  }

  async cancel(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#assertOpen("cancel");
    if (typeof id !== "string") throw invalid("job id must be a string");
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "cancel");
    if (!UUID.test(id)) return false;
    const call = new CallDeadline(timeoutMs, options.signal, "cancel");
    await call.within(this.#ensureReady());
    const row = await this.#db.queryOne<{ waiting: boolean }>(cancelJob(this.#tables, id), call.options());
    if (row === undefined) return false;
    if (row.waiting) {
      try {
        await this.#db.execute(deleteCancelledWaiting(this.#tables, id), call.options());
      } catch (error) {
        // The job is cancelled already (never claimed again); maintenance deletes its row.
        this.#report(error, { queue: undefined, operation: "delete cancelled" });
      }
    } else {
      this.#notifications.cancelled(id);
    }
    return true;
  }

  async listDeadLetters(queue: string, options: ListDeadLettersOptions = {}): Promise<Page<DeadLetter>> {
    this.#assertOpen("listDeadLetters");
    validateQueueName(queue);
    const limit = validateDeadLetterPageSize(options);
    const { after } = options;
    if (after !== undefined && (typeof after !== "string" || !CURSOR.test(after))) {
      throw invalid("after must be a nextCursor returned by listDeadLetters");
    }
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "listDeadLetters");
    const call = new CallDeadline(timeoutMs, options.signal, "listDeadLetters");
    await call.within(this.#ensureReady());
    const rows = await this.#db.query<DeadLetterRow>(
      listDeadLetters(this.#tables, queue, after, limit),
      call.options(),
    );
    const page = rows.slice(0, limit);
    const items = page.map(
      (row): DeadLetter => ({
        id: row.id,
        queue: row.queue,
        payload: decodeJobPayload(row.payload),
        attempts: row.attempts,
        error: { code: row.error_code, message: row.error_message },
        failedAt: row.failed_at.getTime(),
      }),
    );
    const last = page.at(-1);
    return rows.length > limit && last ? { items, nextCursor: last.seq } : { items };
  }

  async redrive(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#assertOpen("redrive");
    if (typeof id !== "string") throw invalid("job id must be a string");
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "redrive");
    if (!UUID.test(id)) return false;
    const call = new CallDeadline(timeoutMs, options.signal, "redrive");
    await call.within(this.#ensureReady());
    const row = await this.#db.queryOne<{ queue: string }>(redriveJob(this.#tables, id), call.options());
    if (row === undefined) return false;
    this.#notifications.wake(row.queue);
    return true;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#workers].map((worker) => worker.close()));
    clearInterval(this.#maintenanceTimer);
    this.#maintenanceTimer = undefined;
    await this.#maintaining;
    await this.#notifications.close();
    if (this.#closeDatabase) await this.#db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A `JobQueue` on PostgreSQL through the `SqlDatabase` port (`createPostgresDatabase` from
 * `@proj/adapter-postgres`): jobs, dead letters and idempotency keys are rows in `options.schema`,
 * workers claim due jobs with `FOR UPDATE SKIP LOCKED` and hold them by a lease (`locked_until`)
 * renewed while the handler runs. See the package README for timings and failure behaviour.
 */
export function createPostgresJobQueue(
  database: SqlDatabase,
  options: PostgresJobQueueOptions = {},
): PostgresJobQueue {
  return new PostgresJobQueueImpl(database, options);
}
