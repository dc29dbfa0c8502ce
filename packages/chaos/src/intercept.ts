import { Readable } from "node:stream";
import { cancelledError } from "@proj/ports";
import type { Decision, KeySource, Site } from "./chaos.js";

/** Waits out an injected delay; a signal that fires ends it at once with the port's cancellation error. */
function pause(decision: Decision, signal: AbortSignal | undefined, what: string): Promise<void> {
  const cancel = () => {
    for (const record of decision.records) if (record.latencyMs !== undefined) record.cancelled = true;
    return cancelledError(signal as AbortSignal, what);
  };
  if (signal?.aborted) return Promise.reject(cancel());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancel());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, decision.latencyMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * One call through chaos: the delay, then the error before the call, or the call and then the error
 * after it (`discard` frees what the call returned: a stream nobody will read).
 */
export function intercept<T>(
  site: Site,
  keys: KeySource | undefined,
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
  discard?: (value: T) => void,
): Promise<T> {
  try {
    const decision = site.decide(keys);
    // Nothing fires: the adapter's own promise, with no layer added.
    if (decision === undefined) return call();
    return inject(decision, site, signal, call, discard);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function inject<T>(
  decision: Decision,
  site: Site,
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
  discard: ((value: T) => void) | undefined,
): Promise<T> {
  if (decision.latencyMs > 0) await pause(decision, signal, site.what);
  if (decision.before !== undefined) throw decision.before;
  if (decision.after === undefined) return call();
  const value = await call();
  discard?.(value);
  throw decision.after;
}

/**
 * The same for a call that hands over something to consume: an error of the `"after"` phase is
 * given to `failAtEnd`, which makes the hand-over fail once its last item is delivered.
 */
export async function interceptStream<T>(
  site: Site,
  keys: KeySource | undefined,
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
  failAtEnd: (value: T, error: Error) => T,
): Promise<T> {
  const decision = site.decide(keys);
  if (decision === undefined) return call();
  if (decision.latencyMs > 0) await pause(decision, signal, site.what);
  if (decision.before !== undefined) throw decision.before;
  const value = await call();
  return decision.after === undefined ? value : failAtEnd(value, decision.after);
}

/** A body that delivers every byte of `body`, then fails with `error`. */
export function readableFailingAtEnd(body: Readable, error: Error): Readable {
  async function* chunks() {
    for await (const chunk of body) yield chunk;
    throw error;
  }
  return Readable.from(chunks(), { objectMode: false });
}

/**
 * An async iterable through chaos: its first `next()` is the call (delay, error before), and an
 * error of the `"after"` phase comes after its last item.
 */
export function chaosIterable<T>(
  site: Site,
  keys: KeySource | undefined,
  signal: AbortSignal | undefined,
  open: () => AsyncIterable<T>,
): AsyncIterable<T> {
  if (site.rules.length === 0) return open();
  return {
    async *[Symbol.asyncIterator]() {
      const decision = site.decide(keys);
      if (decision !== undefined && decision.latencyMs > 0) await pause(decision, signal, site.what);
      if (decision?.before !== undefined) throw decision.before;
      yield* open();
      if (decision?.after !== undefined) throw decision.after;
    },
  };
}
