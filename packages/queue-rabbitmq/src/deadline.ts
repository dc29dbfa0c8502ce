import { cancelledError, InfrastructureError, outcomeUnknownError } from "@proj/ports";

/** One time budget for a whole call, fixed when it starts and shared by each step it takes. */
export interface Deadline {
  readonly timeoutMs: number;
  /** On the `performance.now()` scale; `Infinity` for none. */
  readonly at: number;
}

export function startDeadline(timeoutMs: number): Deadline {
  return { timeoutMs, at: performance.now() + timeoutMs };
}

/** Milliseconds left (at least 1 while any is left; `Infinity` for no deadline). */
export function remainingMs(deadline: Deadline): number {
  if (deadline.at === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return Math.max(0, Math.ceil(deadline.at - performance.now()));
}

export function timeoutError(deadline: Deadline, what: string): InfrastructureError {
  return new InfrastructureError("TIMEOUT", `${what} did not finish within ${deadline.timeoutMs} ms`);
}

/**
 * Settles like `promise`, or rejects when the deadline passes or `signal` fires first. `sent` says
 * whether the step may already have acted on the broker: then a deadline or an abort is an
 * outcome-unknown error. A value that arrives too late goes to `onLate` (to close a channel
 * nobody will use).
 */
export function bounded<T>(
  promise: Promise<T>,
  deadline: Deadline,
  signal: AbortSignal | undefined,
  what: string,
  options: { sent?: boolean; onLate?: (value: T) => void } = {},
): Promise<T> {
  const left = remainingMs(deadline);
  if (left === Number.POSITIVE_INFINITY && signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: InfrastructureError) => {
      if (done) return;
      finish();
      reject(
        options.sent
          ? outcomeUnknownError(
              error.code === "TIMEOUT" ? "TIMEOUT" : "CANCELLED",
              `${error.message}; it may have taken effect`,
              { cause: error },
            )
          : error,
      );
    };
    const onAbort = () => fail(cancelledError(signal as AbortSignal, what));
    if (signal?.aborted) {
      onAbort();
    } else {
      signal?.addEventListener("abort", onAbort, { once: true });
      if (left !== Number.POSITIVE_INFINITY)
        timer = setTimeout(() => fail(timeoutError(deadline, what)), left);
    }
    promise.then(
      (value) => {
        if (done) {
          options.onLate?.(value);
          return;
        }
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        finish();
        reject(error);
      },
    );
  });
}

/** Resolves after `ms`, or at once when `signal` fires. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The delay before reconnect attempt `attempt` (1, 2, …): exponential from 100 ms, capped at 5 s,
 * with equal jitter (a uniform draw over the upper half), so workers that lost the broker together
 * do not come back in lockstep, and an outage is never a busy loop of connection attempts.
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(5_000, 100 * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
