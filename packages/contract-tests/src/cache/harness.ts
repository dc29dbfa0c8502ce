import type { Cache, CacheCapabilities } from "@proj/ports";
import type { ContractHarness } from "../harness.js";

/**
 * What a cache adapter hands the cache contract.
 *
 * `create` makes an empty cache in a namespace of its own, without a default TTL or a capacity the
 * tests could hit. The optional factories unlock the tests that need them; a missing one skips those
 * tests visibly.
 */
export interface CacheHarness extends ContractHarness<Cache> {
  /** What the adapter claims; the suite checks `cache.capabilities` equals it. */
  readonly capabilities: CacheCapabilities;
  /** A fresh cache whose entries expire after `defaultTtlMs` unless `set` says otherwise. */
  createWithDefaultTtl?(defaultTtlMs: number): Promise<Cache>;
  /** A fresh cache that holds at most `maxEntries` entries and evicts beyond that. */
  createBounded?(maxEntries: number): Promise<Cache>;
  /** A second instance over the same namespace as `cache` (required when `capabilities.shared`). */
  createPeer?(cache: Cache): Promise<Cache>;
  /** A cache whose backend cannot be reached (a closed port), for the failure sentence. */
  createUnreachable?(): Promise<Cache>;
  /**
   * A fresh cache in the given namespace, for adapters with namespaces (a shared cache). The suite
   * passes names that start with one another (`P`, `P:sub`) and removes them through `destroy`.
   */
  createInNamespace?(namespace: string): Promise<Cache>;
  /**
   * What the adapter does with a value outside JSON (`NaN`, a `Date`, an `undefined` property):
   * `"kept"` returns it as stored (an in-process cache), `"refused"` rejects it with
   * `INVALID_ARGUMENT` and stores nothing (a serialising cache). Absent: those tests are skipped.
   */
  valuesOutsideJson?: "kept" | "refused";
}

/** Runs `body` with an extra adapter and releases it the way the harness releases its own. */
export async function withExtraCache<T>(
  harness: CacheHarness,
  make: () => Promise<Cache>,
  body: (cache: Cache) => Promise<T>,
): Promise<T> {
  const cache = await make();
  try {
    return await body(cache);
  } finally {
    if (harness.destroy) await harness.destroy(cache);
    else await cache.close();
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Polls `probe` until it returns true. Background work (a refresh, a loader that outlived its
 * waiter) finishes at a time the test does not control, least of all against a remote backend.
 */
export async function eventually(probe: () => Promise<boolean>, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** TTL used by the real-time expiry tests: short, yet long enough for a loaded machine's round trip. */
export const SHORT_TTL_MS = 200;
/** How long the expiry tests wait: comfortably past `SHORT_TTL_MS`. */
export const PAST_SHORT_TTL_MS = 500;

/**
 * Keeps the thread busy for at least `ms` of real time. No timer can fire meanwhile, so a clock
 * driven by timers cannot advance: what a request handler doing heavy work looks like to a cache.
 */
export function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning is the point
  }
}
