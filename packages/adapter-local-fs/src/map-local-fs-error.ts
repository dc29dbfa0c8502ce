import { type ErrorCode, InfrastructureError, isInfrastructureError } from "@proj/ports";

/** File-system error codes (`errno` names) and what they mean to a caller. */
const CODES: Readonly<Record<string, ErrorCode>> = {
  ENOENT: "NOT_FOUND",
  ENOTDIR: "NOT_FOUND",
  EACCES: "PERMISSION_DENIED",
  EPERM: "PERMISSION_DENIED",
  EROFS: "PERMISSION_DENIED",
  ENOSPC: "RESOURCE_EXHAUSTED",
  EDQUOT: "RESOURCE_EXHAUSTED",
  EFBIG: "RESOURCE_EXHAUSTED",
  EMFILE: "RESOURCE_EXHAUSTED",
  ENFILE: "RESOURCE_EXHAUSTED",
  EEXIST: "CONFLICT",
  ENOTEMPTY: "CONFLICT",
  EISDIR: "INVALID_ARGUMENT",
  ENAMETOOLONG: "INVALID_ARGUMENT",
  ELOOP: "INVALID_ARGUMENT",
  EINVAL: "INVALID_ARGUMENT",
  EBUSY: "UNAVAILABLE",
  EAGAIN: "UNAVAILABLE",
  EIO: "UNAVAILABLE",
  ETIMEDOUT: "TIMEOUT",
};

/** A full disk or too many open files may clear; a missing quota or a full disk usually does not soon. */
const RETRYABLE = new Set(["EBUSY", "EAGAIN", "EIO", "ETIMEDOUT", "EMFILE", "ENFILE"]);

function errnoOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Turns whatever a `node:fs` call threw into a taxonomy error. `what` names the operation and the
 * relative path ("write of file \"a/b.txt\""); absolute paths stay out of messages.
 */
export function mapLocalFsError(
  error: unknown,
  what: string,
  details: Readonly<Record<string, unknown>> = {},
): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  const errno = errnoOf(error);
  const code = (errno && CODES[errno]) || "INTERNAL";
  const reason = errno ?? (error instanceof Error ? error.message : String(error));
  return new InfrastructureError(code, `${what} failed: ${reason}`, {
    cause: error,
    retryable: errno !== undefined && RETRYABLE.has(errno),
    details: errno === undefined ? details : { ...details, errno },
  });
}

/** Whether a `node:fs` error is "no such file or folder". */
export function isMissing(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === "ENOENT" || errno === "ENOTDIR";
}

export function hasErrno(error: unknown, errno: string): boolean {
  return errnoOf(error) === errno;
}
