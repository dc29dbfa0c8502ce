import { cancelledError, InfrastructureError, outcomeUnknownError } from "@proj/ports";
import { mapPostgresError } from "./map-postgres-error.js";
import { sendCancelRequest } from "./postgres-cancel.js";
import { type DeadlineEntry, deadlines } from "./postgres-deadlines.js";
import type { ClientSocket, Lease } from "./postgres-lease.js";
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from "./postgres-pool.js";

/** What bounds one call: the caller's signal and an absolute deadline. */
export interface CallLimits {
  readonly signal: AbortSignal | undefined;
  /** `Date.now()` value by which the call must be over; `Infinity` for none. */
  readonly deadline: number;
  /** The deadline as a duration, for messages. */
  readonly timeoutMs: number;
  /**
   * After a deadline or abort, how long the server gets to confirm the cancel of a running
   * statement before the connection is destroyed and the outcome reported unknown.
   */
  readonly graceMs: number;
}

export function limitsFrom(signal: AbortSignal | undefined, timeoutMs: number, graceMs: number): CallLimits {
  return { signal, deadline: Date.now() + timeoutMs, timeoutMs, graceMs };
}

const QUERY_CANCELED = "57014";
/** pg refuses a query on a dead client before sending a byte. */
const NEVER_SENT = /not queryable/i;

function deadlineError(limits: CallLimits, what: string): InfrastructureError {
  return new InfrastructureError("TIMEOUT", `${what} exceeded its ${limits.timeoutMs} ms deadline`);
}

/** Calls `onStop` once, with `TIMEOUT` when the deadline passes or the cancellation error when the signal fires. */
class Watch implements DeadlineEntry {
  deadline: number;
  previous: DeadlineEntry | undefined;
  next: DeadlineEntry | undefined;
  listed = false;
  readonly #limits: CallLimits;
  readonly #what: string;
  readonly #onStop: (error: InfrastructureError) => void;
  readonly #onAbort = (): void => {
    this.disarm();
    this.#onStop(cancelledError(this.#limits.signal as AbortSignal, this.#what));
  };

  constructor(limits: CallLimits, what: string, onStop: (error: InfrastructureError) => void) {
    this.deadline = limits.deadline;
    this.#limits = limits;
    this.#what = what;
    this.#onStop = onStop;
    deadlines.add(this, Date.now());
    const { signal } = limits;
    if (signal?.aborted) queueMicrotask(this.#onAbort);
    else signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  expire(): void {
    this.#limits.signal?.removeEventListener("abort", this.#onAbort);
    this.#onStop(deadlineError(this.#limits, this.#what));
  }

  /** Neither the deadline nor the signal calls `onStop` any more. */
  disarm(): void {
    deadlines.remove(this);
    this.#limits.signal?.removeEventListener("abort", this.#onAbort);
  }
}

/** The driver error behind a taxonomy error, when there is one. */
function driverError(error: unknown): unknown {
  return error instanceof InfrastructureError && error.cause !== undefined ? error.cause : error;
}

/** True when the connection broke under the statement (no server answer), as opposed to an answer. */
function connectionLost(error: unknown): boolean {
  const mapped = mapPostgresError(error, "statement");
  return mapped.code === "UNAVAILABLE" && mapped.details.sqlState === undefined;
}

/** pg refused the statement on a dead connection without sending it: safe to try elsewhere. */
export function neverSent(error: unknown): boolean {
  const cause = driverError(error);
  return cause instanceof Error && NEVER_SENT.test(cause.message);
}

function unknownOutcome(code: "TIMEOUT" | "CANCELLED" | "UNAVAILABLE", what: string, cause: unknown) {
  return outcomeUnknownError(
    code,
    `${what}: the connection ${code === "UNAVAILABLE" ? "broke" : "gave no answer"} after the statement was sent, so whether it ran is unknown`,
    { cause },
  );
}

/** Waits for a free connection, within the call's deadline and signal (nothing is sent yet). */
export function acquireWithin(
  pool: PostgresPool,
  limits: CallLimits,
  what: string,
): Promise<PostgresPoolClient> {
  const doing = `${what} (acquiring a connection)`;
  const connecting = pool.connect();
  return new Promise<PostgresPoolClient>((resolve, reject) => {
    let done = false;
    const watcher = new Watch(limits, doing, (error) => {
      done = true;
      reject(error);
    });
    connecting.then(
      (client) => {
        // Too late: the caller has its answer; the connection goes straight back.
        if (done) client.release();
        else {
          done = true;
          watcher.disarm();
          resolve(client);
        }
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        watcher.disarm();
        reject(mapPostgresError(error, doing));
      },
    );
  });
}

export interface StatementMode {
  /** Wait for the lease's queue (a transaction's connection) instead of running at once. */
  queued: boolean;
  /** Outside a transaction the statement commits by itself, so a lost answer hides its effect. */
  autocommit: boolean;
}

/**
 * Runs one statement on the lease, bounded by `limits`. When the deadline passes or the signal
 * fires: a statement still queued never starts; a running one gets a CancelRequest and `graceMs`
 * for the server to confirm it stopped (then the error is the plain `TIMEOUT`/`CANCELLED`: nothing
 * took effect). Without that answer the socket is destroyed, which frees the connection at once,
 * and an autocommit statement's outcome is reported unknown. Settles only once the connection is
 * free again (or destroyed), so the caller may release it straight away.
 */
export function runStatement<T>(
  lease: Lease,
  task: () => Promise<T>,
  limits: CallLimits,
  what: string,
  mode: StatementMode,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let state: "waiting" | "running" | "stopping" | "done" = "waiting";
    let stopError: InfrastructureError | undefined;
    let grace: NodeJS.Timeout | undefined;
    const settle = (finish: () => void): void => {
      if (state === "done") return;
      state = "done";
      if (grace !== undefined) clearTimeout(grace);
      watcher.disarm();
      finish();
    };
    const watcher = new Watch(limits, what, (error) => {
      if (state === "waiting") {
        settle(() => reject(error));
        return;
      }
      if (state !== "running") return;
      state = "stopping";
      stopError = error;
      if (sendCancelRequest(lease.client, limits.graceMs)) lease.cancelled = true;
      grace = setTimeout(() => {
        lease.destroy();
        const code = error.code === "CANCELLED" ? "CANCELLED" : "TIMEOUT";
        settle(() => reject(mode.autocommit ? unknownOutcome(code, what, error) : error));
      }, limits.graceMs);
    });
    const start = async (): Promise<T | undefined> => {
      if (state !== "waiting") return undefined;
      state = "running";
      return task();
    };
    const pending = mode.queued ? lease.exclusive(start) : start();
    pending.then(
      // A statement that finished within the grace period ran: its result is the truth.
      (value) => settle(() => resolve(value as T)),
      (error: unknown) =>
        settle(() => {
          const sqlState = (error as { code?: unknown } | null)?.code;
          if (stopError !== undefined && sqlState === QUERY_CANCELED) reject(stopError);
          else if (connectionLost(error) && !neverSent(error)) {
            lease.broken = true;
            reject(
              mode.autocommit ? unknownOutcome("UNAVAILABLE", what, error) : mapPostgresError(error, what),
            );
          } else reject(mapPostgresError(error, what));
        }),
    );
  });
}

/**
 * The adapter's own statements (BEGIN, SAVEPOINT, ROLLBACK, COMMIT), queued on the lease and bounded
 * by `limits`. They are never cancelled: past the deadline or on abort the connection is destroyed
 * at once (the server then rolls back). For COMMIT, anything but the server's answer means the
 * outcome is unknown. Returns the first command tag.
 */
export function runControl(
  lease: Lease,
  text: string,
  limits: CallLimits,
  what: string,
  { commit = false }: { commit?: boolean } = {},
): Promise<string | undefined> {
  if (lease.broken) {
    return Promise.reject(
      new InfrastructureError("UNAVAILABLE", `${what} failed: the connection was lost`, { retryable: true }),
    );
  }
  return new Promise<string | undefined>((resolve, reject) => {
    let done = false;
    const watcher = new Watch(limits, what, (error) => {
      if (done) return;
      done = true;
      lease.destroy();
      const code = error.code === "CANCELLED" ? "CANCELLED" : "TIMEOUT";
      reject(commit ? unknownOutcome(code, what, error) : error);
    });
    lease
      .exclusive(() => lease.client.query(text))
      .then(
        (result: PostgresQueryResult | PostgresQueryResult[]) => {
          if (done) return;
          done = true;
          watcher.disarm();
          resolve(Array.isArray(result) ? result[0]?.command : result.command);
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          watcher.disarm();
          if (connectionLost(error) && !neverSent(error)) {
            lease.broken = true;
            reject(commit ? unknownOutcome("UNAVAILABLE", what, error) : mapPostgresError(error, what));
          } else reject(mapPostgresError(error, what));
        },
      );
  });
}

/** What a plain statement's caller keeps of the result: all rows, the first row, the affected count. */
export type ResultShape = "rows" | "row" | "affected";

export function shaped(result: PostgresQueryResult, shape: ResultShape): unknown {
  if (shape === "rows") return result.rows;
  if (shape === "row") return result.rows[0];
  return { affectedRows: result.rowCount ?? 0 };
}

/** The callback API of a `pg.Pool`: the hot path skips the promise pg would make for each step. */
export interface CallbackPool {
  connect(
    callback: (error: Error | undefined, client: CallbackClient | undefined, release: unknown) => void,
  ): void;
}

export type CallbackClient = PostgresPoolClient & {
  query(
    text: string,
    values: unknown[],
    callback: (error: Error | null, result: PostgresQueryResult) => void,
  ): void;
};

/** Runs a SET's reset on the connection and releases it: rare, so it takes the lease path. */
export type ResetSession = (client: CallbackClient) => Promise<void>;

const WAITING = 0;
const RUNNING = 1;
const STOPPING = 2;
const DONE = 3;

/**
 * One autocommit statement on a pool the adapter made: acquire, run, release, with the same
 * guarantees as `acquireWithin` + `runStatement` (one deadline over both, CancelRequest then grace,
 * outcome unknown for a lost answer, one re-run of a statement a dead connection refused unsent),
 * but one promise, no lease, no per-call timer: its deadline is an entry in the shared list.
 */
export class PooledStatement implements DeadlineEntry {
  deadline: number;
  previous: DeadlineEntry | undefined;
  next: DeadlineEntry | undefined;
  listed = false;
  readonly #pool: CallbackPool;
  readonly #text: string;
  readonly #values: unknown[];
  readonly #limits: CallLimits;
  readonly #what: string;
  readonly #shape: ResultShape;
  readonly #resetSession: ResetSession;
  #state = WAITING;
  #attempt = 1;
  #client: CallbackClient | undefined;
  #cancelled = false;
  #broken = false;
  #stopError: InfrastructureError | undefined;
  #grace: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;

  constructor(
    pool: CallbackPool,
    text: string,
    values: unknown[],
    limits: CallLimits,
    what: string,
    shape: ResultShape,
    resetSession: ResetSession,
  ) {
    this.deadline = limits.deadline;
    this.#pool = pool;
    this.#text = text;
    this.#values = values;
    this.#limits = limits;
    this.#what = what;
    this.#shape = shape;
    this.#resetSession = resetSession;
  }

  run(): Promise<unknown> {
    const settled = new Promise<unknown>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    deadlines.add(this, Date.now());
    const { signal } = this.#limits;
    if (signal !== undefined) {
      const onAbort = (): void => this.#stop(cancelledError(signal, this.#doing()));
      this.#onAbort = onAbort;
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    this.#acquire();
    return settled;
  }

  expire(): void {
    this.#stop(deadlineError(this.#limits, this.#doing()));
  }

  #doing(): string {
    return this.#state === WAITING ? `${this.#what} (acquiring a connection)` : this.#what;
  }

  #acquire(): void {
    this.#pool.connect((error, client) => this.#connected(error, client));
  }

  #connected(error: Error | undefined, client: CallbackClient | undefined): void {
    if (this.#state !== WAITING) {
      // Too late: the caller has its answer; the connection goes straight back.
      client?.release();
      return;
    }
    if (error !== undefined && error !== null) {
      this.#finish(mapPostgresError(error, this.#doing()), undefined);
      return;
    }
    if (client === undefined) {
      this.#finish(
        new InfrastructureError("INTERNAL", `${this.#doing()}: the pool gave no connection`),
        undefined,
      );
      return;
    }
    this.#client = client;
    this.#state = RUNNING;
    client.query(this.#text, this.#values, (queryError, result) => this.#answered(queryError, result));
  }

  #answered(error: Error | null, result: PostgresQueryResult): void {
    if (this.#state === DONE) return;
    if (error === null || error === undefined) {
      // A statement that finished within the grace period ran: its result is the truth.
      if (result.command === "SET" && !this.#cancelled) this.#resetThenResolve(result);
      else this.#finish(undefined, shaped(result, this.#shape));
      return;
    }
    if (this.#stopError !== undefined && (error as { code?: unknown }).code === QUERY_CANCELED) {
      this.#finish(this.#stopError, undefined);
    } else if (neverSent(error)) {
      if (this.#stopError !== undefined) this.#finish(this.#stopError, undefined);
      else if (this.#attempt === 1) {
        // Refused by a dead connection before a byte was sent: the only case safe to run again.
        this.#attempt = 2;
        this.#state = WAITING;
        this.#client?.release(true);
        this.#client = undefined;
        this.#acquire();
      } else this.#finish(mapPostgresError(error, this.#what), undefined);
    } else if (connectionLost(error)) {
      this.#broken = true;
      this.#finish(unknownOutcome("UNAVAILABLE", this.#what, error), undefined);
    } else this.#finish(mapPostgresError(error, this.#what), undefined);
  }

  /** A session-level SET outside a transaction changed this pooled connection: undo it first. */
  #resetThenResolve(result: PostgresQueryResult): void {
    const client = this.#client as CallbackClient;
    this.#client = undefined;
    this.#state = DONE;
    this.#disarm();
    const value = shaped(result, this.#shape);
    void this.#resetSession(client).then(() => this.#resolve(value));
  }

  #stop(error: InfrastructureError): void {
    if (this.#state === WAITING) {
      this.#finish(error, undefined);
      return;
    }
    if (this.#state !== RUNNING) return;
    this.#state = STOPPING;
    this.#stopError = error;
    if (sendCancelRequest(this.#client, this.#limits.graceMs)) this.#cancelled = true;
    this.#grace = setTimeout(() => {
      this.#destroy();
      const code = error.code === "CANCELLED" ? "CANCELLED" : "TIMEOUT";
      this.#finish(unknownOutcome(code, this.#what, error), undefined);
    }, this.#limits.graceMs);
  }

  /** The connection missed its deadline: nothing it says later can be trusted. */
  #destroy(): void {
    this.#broken = true;
    (this.#client as unknown as ClientSocket | undefined)?.connection?.stream?.destroy();
  }

  #disarm(): void {
    deadlines.remove(this);
    if (this.#grace !== undefined) clearTimeout(this.#grace);
    if (this.#onAbort !== undefined) this.#limits.signal?.removeEventListener("abort", this.#onAbort);
  }

  #finish(error: unknown, value: unknown): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    this.#disarm();
    const client = this.#client;
    this.#client = undefined;
    client?.release(this.#cancelled || this.#broken);
    if (error === undefined) this.#resolve(value);
    else this.#reject(error);
  }
}
