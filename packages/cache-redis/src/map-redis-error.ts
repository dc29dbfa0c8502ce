import { type ErrorCode, InfrastructureError, isInfrastructureError } from "@proj/ports";

/** Socket-level error codes: the server is not there, or went away. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
]);

/** The first word of a Redis error reply, and what it means for the caller. */
const REPLY_CODES: Readonly<Record<string, ErrorCode>> = {
  NOAUTH: "UNAUTHENTICATED",
  WRONGPASS: "UNAUTHENTICATED",
  NOPERM: "PERMISSION_DENIED",
  OOM: "RESOURCE_EXHAUSTED",
  LOADING: "UNAVAILABLE",
  BUSY: "UNAVAILABLE",
  MASTERDOWN: "UNAVAILABLE",
  READONLY: "UNAVAILABLE",
  TRYAGAIN: "UNAVAILABLE",
  CLUSTERDOWN: "UNAVAILABLE",
};

/**
 * Classifies an error from ioredis. `what` names the operation and the key ("GET of cache key
 * \"tenant:1\""); the message never carries the connection URL, which may hold a password.
 */
export function mapRedisError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (!(error instanceof Error)) {
    return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
  }
  const errno = (error as { code?: unknown }).code;
  if (error.name === "MaxRetriesPerRequestError") {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: Redis is unreachable`, { cause: error });
  }
  if (error.message === "Command timed out") {
    return new InfrastructureError("TIMEOUT", `${what} timed out`, { cause: error });
  }
  if (error.message.startsWith("Socket timeout")) {
    // ioredis destroyed a connection that stayed silent while replies were due (`socketTimeout`).
    return new InfrastructureError("TIMEOUT", `${what} failed: the connection to Redis went silent`, {
      cause: error,
    });
  }
  if (errno === "ETIMEDOUT") {
    return new InfrastructureError("TIMEOUT", `${what} failed: connecting to Redis timed out`, {
      cause: error,
    });
  }
  if (typeof errno === "string" && UNREACHABLE.has(errno)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: Redis is unreachable (${errno})`, {
      cause: error,
      details: { errno },
    });
  }
  if (
    error.message.startsWith("Connection is closed") ||
    error.message.startsWith("Stream isn't writeable")
  ) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: the Redis connection is closed`, {
      cause: error,
    });
  }
  if (error.name === "ReplyError") {
    const redisCode = error.message.split(" ", 1)[0] ?? "";
    const code = REPLY_CODES[redisCode] ?? "INTERNAL";
    return new InfrastructureError(code, `${what} failed: Redis replied ${redisCode}`, {
      cause: error,
      details: { redisCode },
    });
  }
  return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
}
