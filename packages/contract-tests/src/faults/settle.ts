import { type ErrorCode, type InfrastructureError, isInfrastructureError } from "@proj/ports";
import { expect } from "vitest";

/** How a call ended: its value, or the taxonomy error it rejected with. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: InfrastructureError };

/**
 * Waits for `action` and fails the test if it is still pending after `boundMs` (the bound a fault
 * case derives from the adapter's documented deadlines), or if it rejects with anything but a
 * taxonomy error. Returns how it settled, so the case can check the code and the outcome.
 */
export async function expectSettlesWithin<T>(
  action: Promise<T> | (() => Promise<T>),
  boundMs: number,
  what = "the call",
): Promise<Settled<T>> {
  const promise = typeof action === "function" ? action() : action;
  let timer: NodeJS.Timeout | undefined;
  const pending = Symbol("pending");
  const outcome = await Promise.race([
    promise.then(
      (value): Settled<T> => ({ ok: true, value }),
      (error: unknown): Settled<T> | { ok: false; foreign: unknown } =>
        isInfrastructureError(error) ? { ok: false, error } : { ok: false, foreign: error },
    ),
    new Promise<typeof pending>((resolve) => {
      timer = setTimeout(() => resolve(pending), boundMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (outcome === pending) {
    promise.catch(() => undefined);
    throw new Error(`${what} was still pending after ${boundMs} ms`);
  }
  if ("foreign" in outcome) {
    throw new Error(`${what} rejected with an error outside the taxonomy: ${String(outcome.foreign)}`, {
      cause: outcome.foreign,
    });
  }
  return outcome;
}

/** Like `expectSettlesWithin`, and asserts the call rejected with one of `codes`. */
export async function expectFailsWithin(
  action: Promise<unknown> | (() => Promise<unknown>),
  boundMs: number,
  codes: ErrorCode | readonly ErrorCode[],
  what = "the call",
): Promise<InfrastructureError> {
  const settled = await expectSettlesWithin(action, boundMs, what);
  if (settled.ok) throw new Error(`${what} succeeded, but a fault was injected and a failure was expected`);
  const allowed = typeof codes === "string" ? [codes] : codes;
  expect(allowed, `${what}: ${settled.error.message}`).toContain(settled.error.code);
  return settled.error;
}

/**
 * Calls `action` until it succeeds or `boundMs` runs out (then fails the test): an adapter must
 * serve again by itself once a fault ends. Attempts are spaced by `intervalMs`.
 */
export async function expectRecoversWithin<T>(
  action: () => Promise<T>,
  boundMs: number,
  { intervalMs = 100, what = "the adapter" }: { intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + boundMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await expectSettlesWithin(action, Math.max(1, deadline - Date.now()), what).then((settled) => {
        if (settled.ok) return settled.value;
        throw settled.error;
      });
    } catch (error) {
      last = error;
      if (!isInfrastructureError(error)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what} did not serve again within ${boundMs} ms after the fault ended`, { cause: last });
}
