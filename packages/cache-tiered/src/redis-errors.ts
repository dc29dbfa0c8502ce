import { InfrastructureError, isInfrastructureError } from "@proj/ports";

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Classifies an ioredis error; `what` names the operation. Messages never carry the URL. */
export function mapRedisError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (!(error instanceof Error))
    return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
  const errno = (error as { code?: unknown }).code;
  if (
    error.message.startsWith("Socket timeout") ||
    errno === "ETIMEDOUT" ||
    error.message === "Command timed out"
  ) {
    return new InfrastructureError("TIMEOUT", `${what} timed out`, { cause: error });
  }
  if (typeof errno === "string" && UNREACHABLE.has(errno)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: Redis is unreachable (${errno})`, {
      cause: error,
      details: { errno },
    });
  }
  if (
    error.message.startsWith("Connection is closed") ||
    error.message.startsWith("Stream isn't writeable") ||
    error.name === "MaxRetriesPerRequestError"
  ) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: the Redis connection is closed`, {
      cause: error,
    });
  }
  if (error.name === "ReplyError") {
    const redisCode = error.message.split(" ", 1)[0] ?? "";
    const code =
      redisCode === "NOAUTH" || redisCode === "WRONGPASS"
        ? "UNAUTHENTICATED"
        : redisCode === "NOPERM"
          ? "PERMISSION_DENIED"
          : redisCode === "OOM"
            ? "RESOURCE_EXHAUSTED"
            : ["LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN"].includes(redisCode)
              ? "UNAVAILABLE"
              : "INTERNAL";
    return new InfrastructureError(code, `${what} failed: Redis replied ${redisCode}`, {
      cause: error,
      details: { redisCode },
    });
  }
  return new InfrastructureError("UNAVAILABLE", `${what} failed`, { cause: error });
}

/**
 * The delay before reconnect attempt `attempt` (1, 2, …): exponential from 100 ms, capped at 2 s,
 * drawn over the upper half of the step, so an outage never becomes a loop of connection attempts
 * and processes that lost Redis together do not return in lockstep.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(2_000, 100 * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function checkTimeout(timeoutMs: number, name: string): number {
  if (timeoutMs === Number.POSITIVE_INFINITY) return timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `${name} must be a positive integer of milliseconds or Infinity, got ${String(timeoutMs)}`,
      { retryable: false },
    );
  }
  return timeoutMs;
}

export function checkPositive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `${name} must be a positive integer of milliseconds, got ${String(value)}`,
      { retryable: false },
    );
  }
  return value;
}
