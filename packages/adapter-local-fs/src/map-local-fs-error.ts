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

/** What each errno means, so a message never ends in a bare code. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or folder",
  ENOTDIR: "a file is where a folder is expected",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the disk",
  EDQUOT: "the disk quota is exhausted",
  EFBIG: "the file is too large",
  EMFILE: "too many open files in this process",
  ENFILE: "too many open files on this system",
  EEXIST: "it already exists",
  ENOTEMPTY: "the folder is not empty",
  EISDIR: "a folder is where a file is expected",
  ENAMETOOLONG: "a name is too long",
  ELOOP: "a symlink is in the way (a symlink loop, or a symlink where none is followed)",
  EINVAL: "the file system refused the arguments",
  EBUSY: "the file or folder is busy",
  EAGAIN: "the resource is temporarily unavailable",
  EIO: "an input/output error occurred",
  ETIMEDOUT: "the operation timed out",
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
  const reason =
    errno === undefined
      ? error instanceof Error
        ? error.message
        : String(error)
      : REASONS[errno] === undefined
        ? errno
        : `${REASONS[errno]} (${errno})`;
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
