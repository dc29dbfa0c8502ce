import { cancelledError, InfrastructureError, outcomeUnknownError } from "@proj/ports";
import { mapPostgresError } from "./map-postgres-error.js";
import { sendCancelRequest } from "./postgres-cancel.js";
import type { Lease } from "./postgres-lease.js";
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

const MAX_TIMER_MS = 2 ** 31 - 1;
const QUERY_CANCELED = "57014";
/** pg refuses a query on a dead client before sending a byte. */
const NEVER_SENT = /not queryable/i;

/**
 * Calls `onStop` once, with `TIMEOUT` when the deadline passes or the cancellation error when the
 * signal fires. Returns the function that disarms both.
 */
function watch(limits: CallLimits, what: string, onStop: (error: InfrastructureError) => void): () => void {
  const { signal } = limits;
  let timer: NodeJS.Timeout | undefined;
  const disarm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  const onAbort = (): void => {
    disarm();
    onStop(cancelledError(signal as AbortSignal, what));
  };
  const remaining = limits.deadline - Date.now();
  // setTimeout turns delays past 2^31-1 ms into 1 ms; a deadline that far is no deadline.
  if (remaining <= MAX_TIMER_MS) {
    timer = setTimeout(
      () => {
        disarm();
        onStop(new InfrastructureError("TIMEOUT", `${what} exceeded its ${limits.timeoutMs} ms deadline`));
      },
      Math.max(0, remaining),
    );
  }
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener("abort", onAbort, { once: true });
  return disarm;
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
    const disarm = watch(limits, doing, (error) => {
      done = true;
      reject(error);
    });
    connecting.then(
      (client) => {
        // Too late: the caller has its answer; the connection goes straight back.
        if (done) client.release();
        else {
          done = true;
          disarm();
          resolve(client);
        }
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        disarm();
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
      disarm();
      finish();
    };
    const disarm = watch(limits, what, (error) => {
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
    const disarm = watch(limits, what, (error) => {
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
          disarm();
          resolve(Array.isArray(result) ? result[0]?.command : result.command);
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          disarm();
          if (connectionLost(error) && !neverSent(error)) {
            lease.broken = true;
            reject(commit ? unknownOutcome("UNAVAILABLE", what, error) : mapPostgresError(error, what));
          } else reject(mapPostgresError(error, what));
        },
      );
  });
}
