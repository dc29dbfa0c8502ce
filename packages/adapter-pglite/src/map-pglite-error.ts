import { classifySqlState, InfrastructureError, isInfrastructureError } from "@proj/ports";

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** PGlite reports these without a code; its message text is the only way to tell them apart. */
const CLOSED = /PGlite is closed/i;
const BAD_PARAMETER = /Invalid input for/i;

function field(error: object, name: string): unknown {
  return (error as Record<string, unknown>)[name];
}

/**
 * Maps what PGlite threw while doing `what` to the taxonomy. PGlite is PostgreSQL, so SQLSTATEs are
 * classified by the shared `classifySqlState` of `@proj/ports`, exactly as the `pg` adapter does;
 * only the engine's own non-SQL failures are told apart here.
 */
export function mapPgliteError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (typeof error !== "object" || error === null) {
    return new InfrastructureError("INTERNAL", `${what} failed: ${String(error)}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = field(error, "code");
  if (typeof code === "string" && SQLSTATE.test(code)) {
    const { code: taxonomyCode, retryable } = classifySqlState(code);
    const details: Record<string, unknown> = { sqlState: code };
    for (const name of ["schema", "table", "column", "constraint"]) {
      const value = field(error, name);
      if (typeof value === "string") details[name] = value;
    }
    return new InfrastructureError(taxonomyCode, `${what} failed: ${message}`, {
      cause: error,
      retryable,
      details,
    });
  }
  if (CLOSED.test(message)) {
    return new InfrastructureError("CLOSED", `${what} failed: the PGlite instance is closed`, {
      cause: error,
      retryable: false,
    });
  }
  if (BAD_PARAMETER.test(message)) {
    return new InfrastructureError("INVALID_ARGUMENT", `${what} failed: ${message}`, { cause: error });
  }
  return new InfrastructureError("INTERNAL", `${what} failed: ${message}`, { cause: error });
}
