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
  RESOURCE_EXHAUSTED: 429,
  NOT_SUPPORTED: 501,
  CLOSED: 503,
  INTERNAL: 500,
};
