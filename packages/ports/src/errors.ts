/**
 * The one error taxonomy of the kit. Every error that leaves an adapter is an `InfrastructureError`
 * (or a subclass) with a stable `code`; the driver's own error rides along as `cause`.
 *
 * Callers branch on `code`, never on message text or on driver error classes, so that swapping an
 * adapter never changes error handling.
 */
export type ErrorCode =
  /** The addressed thing (key, row, object, tenant, file) does not exist. */
  | "NOT_FOUND"
  /** A uniqueness or version precondition failed (duplicate key, stale `version`, existing object). */
  | "CONFLICT"
  /** The caller passed something the adapter will never accept (bad key, bad SQL, path escape). */
  | "INVALID_ARGUMENT"
  /** No valid credentials were presented (missing, expired or forged token). */
  | "UNAUTHENTICATED"
  /** Credentials are valid but not allowed to do this (S3 AccessDenied, SQL privilege error). */
  | "PERMISSION_DENIED"
  /** The operation did not finish within its time limit. */
  | "TIMEOUT"
  /** The operation was cancelled through its `AbortSignal`. */
  | "CANCELLED"
  /** The backend could not be reached or refused service; trying again later may succeed. */
  | "UNAVAILABLE"
  /** A limit was hit (disk full, throttled, object too large). A pool wait that runs out is `TIMEOUT`. */
  | "RESOURCE_EXHAUSTED"
  /** The adapter does not implement this optional capability. */
  | "NOT_SUPPORTED"
  /** The adapter has been closed; the operation was not attempted. */
  | "CLOSED"
  /** Anything else: a bug, or a backend answer the adapter cannot classify. */
  | "INTERNAL";

export const ERROR_CODES: readonly ErrorCode[] = [
  "NOT_FOUND",
  "CONFLICT",
  "INVALID_ARGUMENT",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "TIMEOUT",
  "CANCELLED",
  "UNAVAILABLE",
  "RESOURCE_EXHAUSTED",
  "NOT_SUPPORTED",
  "CLOSED",
  "INTERNAL",
];

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set([
  "TIMEOUT",
  "UNAVAILABLE",
  "RESOURCE_EXHAUSTED",
]);

/** Marker shared by every copy of this package, so errors are recognised across duplicate installs. */
const MARKER = Symbol.for("@proj/ports.InfrastructureError");

export interface InfrastructureErrorOptions {
  /** The driver's error (or whatever was caught). */
  cause?: unknown;
  /**
   * Whether the same call may succeed if tried again. Defaults from the code. A retry is only safe
   * for idempotent operations: a write that timed out may have happened.
   */
  retryable?: boolean;
  /** Machine-readable facts about the failure (SQLSTATE, HTTP status, the key). Never secrets. */
  details?: Readonly<Record<string, unknown>>;
}

export class InfrastructureError extends Error {
  readonly [MARKER] = true;
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: InfrastructureErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "InfrastructureError";
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details ?? {};
  }

  /** `instanceof` that also holds across duplicate installed copies of `@proj/ports`. */
  static isInstance(error: unknown): error is InfrastructureError {
    return typeof error === "object" && error !== null && MARKER in error;
  }
}

/** True when `error` is a taxonomy error, optionally with the given code. */
export function isInfrastructureError(error: unknown, code?: ErrorCode): error is InfrastructureError {
  return InfrastructureError.isInstance(error) && (code === undefined || error.code === code);
}

/** Why a token was refused. Stable strings, safe to log and to return to a client. */
export type TokenFailureReason =
  | "missing"
  | "malformed"
  | "too_large"
  | "algorithm_not_allowed"
  | "bad_signature"
  | "unknown_key"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "too_old"
  | "wrong_issuer"
  | "wrong_audience"
  | "wrong_type"
  | "missing_claim"
  | "invalid_claim"
  | "unsupported_header";

/** An `UNAUTHENTICATED` error that says why, without echoing the token or any key material. */
export class UnauthenticatedError extends InfrastructureError {
  readonly reason: TokenFailureReason;

  constructor(
    reason: TokenFailureReason,
    message: string,
    options: Omit<InfrastructureErrorOptions, "retryable"> = {},
  ) {
    super("UNAUTHENTICATED", message, {
      ...options,
      retryable: false,
      details: { ...options.details, reason },
    });
    this.name = "UnauthenticatedError";
    this.reason = reason;
  }

  /** Like `instanceof UnauthenticatedError`, across duplicate installed copies of this package. */
  static override isInstance(error: unknown): error is UnauthenticatedError {
    return (
      InfrastructureError.isInstance(error) &&
      error.code === "UNAUTHENTICATED" &&
      typeof (error as { reason?: unknown }).reason === "string"
    );
  }
}

/** The error every adapter throws when an operation's `AbortSignal` fires. */
export function cancelledError(signal: AbortSignal, what: string): InfrastructureError {
  const reason: unknown = signal.reason;
  if (isInfrastructureError(reason)) return reason;
  const isTimeout = reason instanceof Error && reason.name === "TimeoutError";
  return new InfrastructureError(
    isTimeout ? "TIMEOUT" : "CANCELLED",
    `${what} was ${isTimeout ? "timed out" : "cancelled"}`,
    {
      cause: reason,
      retryable: isTimeout,
    },
  );
}

/** Throws the cancellation error now if `signal` has already fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(signal, what);
}

/**
 * Settles like `promise`, except that it rejects with the cancellation error as soon as `signal`
 * fires, even while `promise` is still pending (a stalled stream read, a slow driver call). The
 * abandoned `promise` keeps running; its late rejection is swallowed, since the caller already has
 * its answer.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(cancelledError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError(signal, what));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Whether a failed call's effect on the backend is known. `"unknown"` means the request may have
 * been carried out (a write sent whose reply was lost, a `COMMIT` whose answer never came): the
 * caller must check before doing it again. Such an error is never `retryable`.
 */
export type OperationOutcome = "unknown";

/**
 * The error for a call whose request reached (or may have reached) the backend but whose answer
 * was lost: `code` says how it ended (`TIMEOUT` when a deadline ran out, `UNAVAILABLE` when the
 * connection broke), `details.outcome` is `"unknown"` and `retryable` is false, on every adapter.
 */
export function outcomeUnknownError(
  code: "TIMEOUT" | "UNAVAILABLE" | "CANCELLED",
  message: string,
  options: Omit<InfrastructureErrorOptions, "retryable"> = {},
): InfrastructureError {
  return new InfrastructureError(code, message, {
    ...options,
    retryable: false,
    details: { ...options.details, outcome: "unknown" satisfies OperationOutcome },
  });
}

/** True for a taxonomy error whose effect on the backend cannot be known (see `outcomeUnknownError`). */
export function isOutcomeUnknown(error: unknown): error is InfrastructureError {
  return InfrastructureError.isInstance(error) && error.details.outcome === "unknown";
}

/** The error every adapter throws when used after `close()`. */
export function closedError(what: string): InfrastructureError {
  return new InfrastructureError("CLOSED", `${what} is closed`, { retryable: false });
}
