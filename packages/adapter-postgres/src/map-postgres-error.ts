import { classifySqlState, InfrastructureError, isInfrastructureError } from "@proj/ports";

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Node socket errors: the server is down, unreachable or dropped us. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** pg reports these without a code; matching its message text is the only way to tell them apart. */
const POOL_TIMEOUT = /timeout exceeded when trying to connect|connection timeout/i;
const CONNECTION_LOST = /Connection terminated|connection error|not queryable|Client was closed/i;
const POOL_ENDED = /Cannot use a pool after calling end/i;

function field(error: object, name: string): unknown {
  return (error as Record<string, unknown>)[name];
}

/** The server's facts about the failure; never `detail`, which echoes the offending values. */
function serverDetails(error: object, sqlState: string): Record<string, unknown> {
  const details: Record<string, unknown> = { sqlState };
  for (const name of ["schema", "table", "column", "constraint"]) {
    const value = field(error, name);
    if (typeof value === "string") details[name] = value;
  }
  return details;
}

/** Maps whatever `pg` threw while doing `what` to the taxonomy; the original rides as `cause`. */
export function mapPostgresError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (typeof error !== "object" || error === null) {
    return new InfrastructureError("INTERNAL", `${what} failed: ${String(error)}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = field(error, "code");
  if (typeof code === "string" && SQLSTATE.test(code)) {
    const { code: taxonomyCode, retryable } = classifySqlState(code);
    return new InfrastructureError(taxonomyCode, `${what} failed: ${message}`, {
      cause: error,
      retryable,
      details: serverDetails(error, code),
    });
  }
  if (typeof code === "string" && NETWORK_CODES.has(code)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: PostgreSQL unreachable (${code})`, {
      cause: error,
      details: { errno: code },
    });
  }
  if (POOL_TIMEOUT.test(message)) {
    return new InfrastructureError(
      "TIMEOUT",
      `${what} failed: no free connection within the acquire timeout`,
      {
        cause: error,
      },
    );
  }
  if (POOL_ENDED.test(message)) {
    return new InfrastructureError("CLOSED", `${what} failed: the pool is closed`, {
      cause: error,
      retryable: false,
    });
  }
  if (CONNECTION_LOST.test(message)) {
    return new InfrastructureError("UNAVAILABLE", `${what} failed: ${message}`, { cause: error });
  }
  return new InfrastructureError("INTERNAL", `${what} failed: ${message}`, { cause: error });
}
