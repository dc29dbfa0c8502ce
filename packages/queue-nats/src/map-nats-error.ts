import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { type ErrorCode, InfrastructureError, isInfrastructureError } from "@proj/ports";

/** The part of a JetStream API error reply the mapping reads. */
export interface ApiErrorReply {
  code: number;
  err_code?: number;
  description?: string;
}

/** JetStream API error codes (`err_code`) and what they mean for the caller. */
const API_CODES: Readonly<Record<number, ErrorCode>> = {
  10014: "NOT_FOUND", // consumer not found
  10059: "NOT_FOUND", // stream not found
  10037: "NOT_FOUND", // no message found
  10043: "NOT_FOUND", // sequence not found
  10058: "CONFLICT", // stream name already in use with a different configuration
  10065: "CONFLICT", // subjects overlap with an existing stream
  10013: "CONFLICT", // consumer name already in use
  10002: "RESOURCE_EXHAUSTED", // resource limits exceeded for account
  10023: "RESOURCE_EXHAUSTED", // insufficient resources
  10026: "RESOURCE_EXHAUSTED", // maximum consumers limit reached
  10027: "RESOURCE_EXHAUSTED", // maximum number of streams reached
  10028: "RESOURCE_EXHAUSTED", // insufficient memory resources
  10047: "RESOURCE_EXHAUSTED", // insufficient storage resources
  10054: "RESOURCE_EXHAUSTED", // message size exceeds maximum allowed
  10097: "RESOURCE_EXHAUSTED", // header size exceeds maximum allowed
  10008: "UNAVAILABLE", // JetStream system temporarily unavailable
  10118: "UNAVAILABLE", // stream is offline
  10119: "UNAVAILABLE", // consumer is offline
};

/** `err_code` 10077 ("stream store failed") carries the store's own error as its description. */
const STORE_LIMITS = /maximum (messages|bytes|messages per subject) exceeded|message size exceeds/i;
/** `err_code` 10057 (message delete failed) for a message that is not there. */
const DELETE_MISSING = /no message found|EOF|not found/i;

function byStatus(status: number): ErrorCode {
  if (status === 400) return "INVALID_ARGUMENT";
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "PERMISSION_DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 408) return "TIMEOUT";
  if (status === 409) return "CONFLICT";
  if (status === 503) return "UNAVAILABLE";
  return "INTERNAL";
}

/** Classifies a JetStream API error reply (a stream, consumer or message call, or a publish). */
export function mapApiError(reply: ApiErrorReply, what: string, cause?: unknown): InfrastructureError {
  const errCode = reply.err_code ?? 0;
  const description = reply.description ?? "";
  let code: ErrorCode = API_CODES[errCode] ?? byStatus(reply.code);
  if (errCode === 10077) code = STORE_LIMITS.test(description) ? "RESOURCE_EXHAUSTED" : "INTERNAL";
  if (errCode === 10057 && DELETE_MISSING.test(description)) code = "NOT_FOUND";
  return new InfrastructureError(
    code,
    `${what} failed: NATS JetStream replied ${description || reply.code}`,
    {
      cause: cause ?? new JetStreamApiError({ code: reply.code, err_code: errCode, description }),
      // A full stream may drain; the payload-size refusal is final.
      retryable: code === "RESOURCE_EXHAUSTED" ? errCode !== 10054 && errCode !== 10097 : undefined,
      details: { natsStatus: reply.code, natsErrCode: errCode },
    },
  );
}

/**
 * Classifies an error from the NATS client. `what` names the operation; the message never carries
 * the server URL or credentials.
 */
export function mapNatsError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (error instanceof JetStreamApiError) {
    const api = error.apiError();
    return mapApiError({ code: api.code, err_code: api.err_code, description: api.description }, what, error);
  }
  if (error instanceof errors.TimeoutError) {
    return new InfrastructureError("TIMEOUT", `${what} timed out`, { cause: error });
  }
  if (error instanceof errors.RequestError && error.isNoResponders()) {
    return new InfrastructureError(
      "UNAVAILABLE",
      `${what} failed: no responder (JetStream or the stream is missing)`,
      {
        cause: error,
        details: { noResponders: true },
      },
    );
  }
  if (error instanceof errors.NoRespondersError) {
    return new InfrastructureError(
      "UNAVAILABLE",
      `${what} failed: no responder (JetStream or the stream is missing)`,
      {
        cause: error,
        details: { noResponders: true },
      },
    );
  }
  if (error instanceof errors.ClosedConnectionError || error instanceof errors.DrainingConnectionError) {
    return new InfrastructureError("CLOSED", `${what} failed: the NATS connection is closed`, {
      cause: error,
      retryable: false,
    });
  }
  if (error instanceof errors.AuthorizationError || error instanceof errors.UserAuthenticationExpiredError) {
    return new InfrastructureError("UNAUTHENTICATED", `${what} failed: NATS refused the credentials`, {
      cause: error,
      retryable: false,
    });
  }
  if (error instanceof errors.PermissionViolationError) {
    return new InfrastructureError(
      "PERMISSION_DENIED",
      `${what} failed: NATS denied ${error.operation} on ${error.subject}`,
      {
        cause: error,
        retryable: false,
      },
    );
  }
  if (error instanceof errors.ConnectionError || error instanceof errors.RequestError) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: ${error.message}`, { cause: error });
  }
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === "string" && /^E[A-Z]+$/.test(errno)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: NATS is unreachable (${errno})`, {
      cause: error,
      details: { errno },
    });
  }
  return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error });
}

/** True for the "no responders" error: nothing was sent to a stream, so the call is safe to repeat. */
export function isNoResponders(error: unknown): boolean {
  return isInfrastructureError(error) && error.details.noResponders === true;
}
