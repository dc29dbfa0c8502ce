import { cancelledError, type ErrorCode, InfrastructureError, isInfrastructureError } from "@proj/ports";

interface Classification {
  code: ErrorCode;
  retryable?: boolean;
}

/** S3 error codes (the `name` the SDK gives a service exception, or `Code` in a batch result). */
const BY_S3_CODE: Readonly<Record<string, Classification>> = {
  NoSuchKey: { code: "NOT_FOUND" },
  NotFound: { code: "NOT_FOUND" },
  NoSuchBucket: { code: "NOT_FOUND" },
  NoSuchUpload: { code: "NOT_FOUND" },
  AccessDenied: { code: "PERMISSION_DENIED" },
  AllAccessDisabled: { code: "PERMISSION_DENIED" },
  InvalidAccessKeyId: { code: "UNAUTHENTICATED" },
  SignatureDoesNotMatch: { code: "UNAUTHENTICATED" },
  ExpiredToken: { code: "UNAUTHENTICATED" },
  InvalidToken: { code: "UNAUTHENTICATED" },
  SlowDown: { code: "UNAVAILABLE", retryable: true },
  ServiceUnavailable: { code: "UNAVAILABLE", retryable: true },
  InternalError: { code: "UNAVAILABLE", retryable: true },
  PreconditionFailed: { code: "CONFLICT" },
  ConditionalRequestConflict: { code: "CONFLICT", retryable: true },
  InvalidArgument: { code: "INVALID_ARGUMENT" },
  InvalidRange: { code: "INVALID_ARGUMENT" },
  KeyTooLongError: { code: "INVALID_ARGUMENT" },
  InvalidBucketName: { code: "INVALID_ARGUMENT" },
  EntityTooLarge: { code: "RESOURCE_EXHAUSTED", retryable: false },
  RequestTimeout: { code: "TIMEOUT" },
  TimeoutError: { code: "TIMEOUT" },
  RequestTimeTooSkewed: { code: "UNAUTHENTICATED" },
  NotImplemented: { code: "NOT_SUPPORTED" },
};

/** Node socket errors: the endpoint could not be reached or hung up. */
const BY_SYSTEM_CODE: Readonly<Record<string, Classification>> = {
  ECONNREFUSED: { code: "UNAVAILABLE" },
  ECONNRESET: { code: "UNAVAILABLE" },
  EPIPE: { code: "UNAVAILABLE" },
  ENOTFOUND: { code: "UNAVAILABLE" },
  EAI_AGAIN: { code: "UNAVAILABLE" },
  EHOSTUNREACH: { code: "UNAVAILABLE" },
  ENETUNREACH: { code: "UNAVAILABLE" },
  ETIMEDOUT: { code: "TIMEOUT" },
  ECONNABORTED: { code: "TIMEOUT" },
};

function byHttpStatus(status: number): Classification | undefined {
  if (status === 400) return { code: "INVALID_ARGUMENT" };
  if (status === 401) return { code: "UNAUTHENTICATED" };
  if (status === 403) return { code: "PERMISSION_DENIED" };
  if (status === 404) return { code: "NOT_FOUND" };
  if (status === 408) return { code: "TIMEOUT" };
  if (status === 409 || status === 412) return { code: "CONFLICT" };
  if (status === 416) return { code: "INVALID_ARGUMENT" };
  // Throttling answers are worth retrying later, like a 5xx.
  if (status === 429 || status === 503) return { code: "UNAVAILABLE", retryable: true };
  if (status >= 500) return { code: "UNAVAILABLE", retryable: true };
  return undefined;
}

interface ErrorFacts {
  name?: string;
  code?: string;
  status?: number;
}

function factsOf(error: unknown): ErrorFacts {
  if (typeof error !== "object" || error === null) return {};
  const record = error as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $response?: { statusCode?: unknown };
  };
  const status = record.$metadata?.httpStatusCode ?? record.$response?.statusCode;
  const code = typeof record.code === "string" ? record.code : record.Code;
  return {
    name: typeof record.name === "string" ? record.name : undefined,
    code: typeof code === "string" ? code : undefined,
    status: typeof status === "number" ? status : undefined,
  };
}

function classify(error: unknown): Classification & { facts: ErrorFacts } {
  const facts = factsOf(error);
  // The socket's own code comes first: the SDK renames ECONNRESET and EPIPE to "TimeoutError".
  const known =
    (facts.code !== undefined ? BY_SYSTEM_CODE[facts.code] : undefined) ??
    (facts.name !== undefined ? BY_S3_CODE[facts.name] : undefined) ??
    (facts.code !== undefined ? BY_S3_CODE[facts.code] : undefined) ??
    (facts.status !== undefined ? byHttpStatus(facts.status) : undefined);
  if (known) return { ...known, facts };
  if (facts.name === "AbortError") return { code: "CANCELLED", facts };
  // The SDK wraps socket errors it gave up retrying; the system code sits on the cause.
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause !== undefined && cause !== error) {
    const inner = classify(cause);
    if (inner.code !== "INTERNAL") return { ...inner, facts };
  }
  return { code: "INTERNAL", facts };
}

/**
 * Turns whatever the S3 SDK (or lib-storage, or a socket) threw into a taxonomy error.
 *
 * `what` names the operation and key for the message. When `signal` has fired, the result is the
 * signal's `CANCELLED`/`TIMEOUT`, whatever the SDK made of the abort.
 */
export function mapS3Error(error: unknown, what: string, signal?: AbortSignal): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (signal?.aborted) return cancelledError(signal, what);
  const { code, retryable, facts } = classify(error);
  const reason = facts.name ?? facts.code ?? "error";
  const status = facts.status !== undefined ? ` (HTTP ${facts.status})` : "";
  return new InfrastructureError(code, `${what} failed: ${reason}${status}`, {
    cause: error,
    ...(retryable !== undefined ? { retryable } : {}),
    details: {
      ...(facts.name !== undefined ? { s3Error: facts.name } : {}),
      ...(facts.code !== undefined ? { errorCode: facts.code } : {}),
      ...(facts.status !== undefined ? { httpStatus: facts.status } : {}),
    },
  });
}
