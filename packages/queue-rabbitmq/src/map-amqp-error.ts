import { type ErrorCode, InfrastructureError, isInfrastructureError } from "@proj/ports";

/** Socket-level error codes: the broker is not there, or went away. */
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

/** AMQP 0-9-1 reply codes (channel and connection closes) and what they mean for the caller. */
const REPLY_CODES: Readonly<Record<number, ErrorCode>> = {
  311: "RESOURCE_EXHAUSTED", // content-too-large
  320: "UNAVAILABLE", // connection-forced: the broker is shutting down, or an operator closed it
  402: "INVALID_ARGUMENT", // invalid-path (vhost)
  403: "PERMISSION_DENIED", // access-refused
  404: "NOT_FOUND",
  405: "CONFLICT", // resource-locked
  406: "CONFLICT", // precondition-failed
  501: "INTERNAL", // frame-error
  502: "INTERNAL", // syntax-error
  503: "INTERNAL", // command-invalid
  504: "INTERNAL", // channel-error
  505: "INTERNAL", // unexpected-frame
  506: "RESOURCE_EXHAUSTED", // resource-error
  530: "PERMISSION_DENIED", // not-allowed
  540: "NOT_SUPPORTED", // not-implemented
  541: "INTERNAL", // internal-error
};

/** The AMQP reply code of an error amqplib raised for a channel or connection close, if any. */
export function replyCodeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/**
 * Classifies an error from amqplib. `what` names the operation ("enqueue on jobs.reports"); the
 * message never carries the connection URL, which may hold a password.
 */
export function mapAmqpError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (!(error instanceof Error)) {
    return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
  }
  const reply = replyCodeOf(error);
  if (reply !== undefined) {
    const code = REPLY_CODES[reply] ?? "INTERNAL";
    return new InfrastructureError(code, `${what} failed: RabbitMQ replied ${reply} (${error.message})`, {
      cause: error,
      details: { replyCode: reply },
    });
  }
  const errno = (error as { code?: unknown }).code;
  if (typeof errno === "string" && UNREACHABLE.has(errno)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: RabbitMQ is unreachable (${errno})`, {
      cause: error,
      details: { errno },
    });
  }
  if (errno === "ETIMEDOUT" || /timeout/i.test(error.message)) {
    return new InfrastructureError("TIMEOUT", `${what} failed: connecting to RabbitMQ timed out`, {
      cause: error,
    });
  }
  if (/ACCESS.REFUSED|Login was refused/i.test(error.message)) {
    return new InfrastructureError("UNAUTHENTICATED", `${what} failed: RabbitMQ refused the credentials`, {
      cause: error,
    });
  }
  if (error.name === "IllegalOperationError" || /closed|Unexpected close|Socket/i.test(error.message)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: the connection to RabbitMQ closed`, {
      cause: error,
    });
  }
  return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
}
