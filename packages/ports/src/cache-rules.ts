import { InfrastructureError } from "./errors.js";

/**
 * The `Cache` contract's key rule as code, so every adapter refuses the same keys with the same
 * error before any I/O.
 */

/** `String.prototype.isWellFormed` (Node 20+), which the ES2023 library types do not declare yet. */
interface WellFormedCheck {
  isWellFormed(): boolean;
}

/**
 * Throws `INVALID_ARGUMENT` unless `key` is a non-empty string of well-formed UTF-16: a lone
 * surrogate has no UTF-8 form, so a backend that stores bytes would map `"k\ud800"`, `"k\udc00"` and
 * `"k\ufffd"` to one key. `what` names the argument in the message ("cache key", "prefix",
 * "namespace").
 */
export function validateCacheKey(key: unknown, what = "cache key"): asserts key is string {
  if (typeof key !== "string" || key === "") {
    throw invalidCacheKey(
      `${what}s are non-empty strings, got ${key === "" ? "an empty string" : typeof key}`,
    );
  }
  if (!(key as unknown as WellFormedCheck).isWellFormed()) {
    // JSON.stringify writes a lone surrogate as an escape, so the message shows which one.
    throw invalidCacheKey(`${what} ${JSON.stringify(key)} holds a lone surrogate (not valid Unicode)`);
  }
}

function invalidCacheKey(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}
