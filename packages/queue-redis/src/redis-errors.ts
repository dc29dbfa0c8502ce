import { type ErrorCode, InfrastructureError, isInfrastructureError, outcomeUnknownError } from "@proj/ports";

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

/** Messages of ioredis (and BullMQ) for a command that never reached the socket. */
function neverSent(error: Error): boolean {
  return (
    error.message.startsWith("Stream isn't writeable") || error.message.startsWith("Command cannot be queued")
  );
}

/**
 * Classifies an error from ioredis or BullMQ. `what` names the operation ("enqueue on queue
 * \"reports\""); the message never carries the connection URL, which may hold a password.
 */
export function mapRedisError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (!(error instanceof Error)) {
    return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
  }
  const errno = (error as { code?: unknown }).code;
  if (error.name === "MaxRetriesPerRequestError") {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: the connection to Redis was lost`, {
      cause: error,
    });
  }
  if (error.message.startsWith("Socket timeout")) {
    return new InfrastructureError("TIMEOUT", `${what} failed: the connection to Redis went silent`, {
      cause: error,
    });
  }
  if (errno === "ETIMEDOUT" || error.message === "connect ETIMEDOUT") {
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
  if (neverSent(error)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: no connection to Redis (not sent)`, {
      cause: error,
    });
  }
  if (error.message.startsWith("Connection is closed") || error.name === "ConnectionClosedError") {
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
  return new InfrastructureError("INTERNAL", `${what} failed: ${error.message}`, { cause: error });
}

/**
 * Whether a failed write may have been carried out: anything but an error reply from Redis (which
 * answered, and refused) or a command that never reached the socket.
 */
export function mayHaveRun(error: unknown): boolean {
  if (isInfrastructureError(error)) return error.details.outcome === "unknown";
  if (!(error instanceof Error)) return true;
  return error.name !== "ReplyError" && !neverSent(error);
}

/** A write that reached (or may have reached) Redis and got no answer: its outcome is unknown. */
export function lostReply(error: InfrastructureError): InfrastructureError {
  if (error.details.outcome === "unknown") return error;
  const code = error.code === "TIMEOUT" || error.code === "CANCELLED" ? error.code : "UNAVAILABLE";
  return outcomeUnknownError(code, `${error.message}; it may or may not have been carried out`, {
    cause: error.cause ?? error,
    details: error.details,
  });
}
