import type { ErrorCode } from "@proj/ports";

/** HTTP status for each taxonomy code: the one place the web layer interprets errors. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  TIMEOUT: 504,
  CANCELLED: 499,
  UNAVAILABLE: 503,
  // Disk full, too many connections: the service is out of something, not the caller over a quota.
  RESOURCE_EXHAUSTED: 503,
  NOT_SUPPORTED: 501,
  CLOSED: 503,
  INTERNAL: 500,
};

/**
 * What a client is told for each code. Backend messages name tables, keys, endpoints and (MySQL)
 * carry SQL text, so no error message is ever sent as is: the code, this sentence, and the log has
 * the rest.
 */
export const CLIENT_MESSAGE_BY_CODE: Record<ErrorCode, string> = {
  NOT_FOUND: "no such resource",
  CONFLICT: "the request conflicts with the current state (a taken name or a stale version)",
  INVALID_ARGUMENT: "the request is not valid",
  UNAUTHENTICATED: "the bearer token was refused",
  PERMISSION_DENIED: "the caller is not allowed to do this",
  TIMEOUT: "the service could not complete the request",
  CANCELLED: "the request was cancelled",
  UNAVAILABLE: "the service could not complete the request",
  RESOURCE_EXHAUSTED: "the service could not complete the request",
  NOT_SUPPORTED: "the service could not complete the request",
  CLOSED: "the service could not complete the request",
  INTERNAL: "the service could not complete the request",
};
