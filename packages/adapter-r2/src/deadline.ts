import { abortable, InfrastructureError } from "@proj/ports";

/**
 * One call's deadline: a signal that fires when the caller's signal fires or when `timeoutMs` has
 * passed, whichever comes first. The SDK aborts the request (and destroys its socket) on it, and
 * `settle` makes the call reject at that moment even while the SDK sleeps between retries.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  settle<T>(promise: Promise<T>): Promise<T>;
  /** Stops the timer and lets go of the caller's signal. */
  dispose(): void;
}

/** `Infinity` turns the timer off; anything else must be a positive number of milliseconds. */
export function validateTimeout(value: unknown, name: string): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InfrastructureError("INVALID_ARGUMENT", `${name} must be a positive number of ms or Infinity`, {
      details: { [name]: String(value) },
    });
  }
  return value;
}

export function startDeadline(timeoutMs: number, caller: AbortSignal | undefined, what: string): Deadline {
  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(caller?.reason);
  if (caller?.aborted) onCallerAbort();
  else caller?.addEventListener("abort", onCallerAbort, { once: true });
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(
        () =>
          controller.abort(
            new InfrastructureError("TIMEOUT", `${what} missed its ${timeoutMs} ms deadline`, {
              retryable: true,
              details: { timeoutMs },
            }),
          ),
        timeoutMs,
      )
    : undefined;
  return {
    signal: controller.signal,
    settle: (promise) => abortable(promise, controller.signal, what),
    dispose() {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}

/** Runs `action` under a fresh deadline, disposed however it ends. */
export async function withDeadline<T>(
  timeoutMs: number,
  caller: AbortSignal | undefined,
  what: string,
  action: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = startDeadline(timeoutMs, caller, what);
  try {
    return await deadline.settle(action(deadline.signal));
  } finally {
    deadline.dispose();
  }
}
