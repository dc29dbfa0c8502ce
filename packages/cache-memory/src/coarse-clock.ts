/**
 * A clock for expiry checks on the hot path. Reading `performance.now()` costs about as much as the
 * rest of a cache hit, so a sample is reused until a 1 ms timer retires it or `MAX_READS` lookups
 * have used it, whichever comes first. The second bound keeps a long synchronous loop (where no
 * timer can fire) from judging expiry against an old sample.
 *
 * `performance` and `setTimeout` are looked up on every sample rather than captured, so fake timers
 * that replace them (vitest's default) steer this clock too.
 */
const MAX_READS = 64;
const SAMPLE_LIFETIME_MS = 1;

let sample = 0;
let readsLeft = 0;
/** The `setTimeout` that armed the pending retirement; undefined when none is pending. */
let armedWith: typeof setTimeout | undefined;

function retireSample(): void {
  armedWith = undefined;
  readsLeft = 0;
}

/** Milliseconds on the `performance.now()` scale, at most `SAMPLE_LIFETIME_MS` or 64 reads old. */
export function coarseNow(): number {
  if (readsLeft !== 0) {
    readsLeft--;
    return sample;
  }
  return preciseNow();
}

/** A fresh sample, which later `coarseNow` calls reuse. */
export function preciseNow(): number {
  sample = performance.now();
  readsLeft = MAX_READS;
  // A pending timer armed through another `setTimeout` (fake timers installed or removed since)
  // may never fire: arm one through the current one.
  if (armedWith !== globalThis.setTimeout) {
    armedWith = globalThis.setTimeout;
    armedWith(retireSample, SAMPLE_LIFETIME_MS).unref();
  }
  return sample;
}
