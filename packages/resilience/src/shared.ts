import type { Readable } from "node:stream";
import type { CallHooks } from "./policy.js";

/** The caller's options with the policy's signal, unchanged (not copied) when the signal is theirs. */
export function withSignal<O extends { signal?: AbortSignal }>(
  options: O | undefined,
  signal: AbortSignal | undefined,
): O | undefined {
  if (signal === options?.signal) return options;
  return { ...(options as O), signal };
}

/** Errors that came out of the caller's own code (a loader, a transaction's work, report rows). */
const callerErrors = new WeakSet<object>();

function tag(error: unknown): void {
  if (typeof error === "object" && error !== null) callerErrors.add(error);
}

/** Hooks that keep the caller's own errors out of retries and out of the breaker's count. */
export const CALLER_CODE: CallHooks<never> = {
  isCallerError: (error) => typeof error === "object" && error !== null && callerErrors.has(error),
};

/** `fn`, with whatever it throws marked as the caller's own. */
export function callerCode<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      tag(error);
      throw error;
    }
  };
}

function* syncRows<T>(rows: Iterable<T>): Generator<T, void, undefined> {
  try {
    yield* rows;
  } catch (error) {
    tag(error);
    throw error;
  }
}

async function* asyncRows<T>(rows: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  try {
    yield* rows;
  } catch (error) {
    tag(error);
    throw error;
  }
}

/**
 * The caller's rows, with what their iterator throws marked as the caller's own. Anything that is
 * not an iterable is returned as is, for the adapter to refuse.
 */
export function callerRows<R>(rows: R): R {
  if (typeof rows !== "object" || rows === null) return rows;
  if (Symbol.asyncIterator in rows) return asyncRows(rows as AsyncIterable<unknown>) as R;
  if (Symbol.iterator in rows) return syncRows(rows as Iterable<unknown>) as R;
  return rows;
}

/** Runs `release` once, when the stream is closed (ended, failed or destroyed). */
export function releaseOnClose(stream: Readable, release: () => void): void {
  if (stream.closed || stream.destroyed) release();
  else stream.once("close", release);
}

/** A function that does its work on the first call only. */
export function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
