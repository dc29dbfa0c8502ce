/**
 * What a failed request tells about its effect on the server:
 * - `not-sent`: the connection was never made, so the server cannot have acted;
 * - `refused`: the server itself answered with an error status, so it did not act;
 * - `unknown`: the request may have reached the server and been carried out (a reset or a silence
 *   after sending, a deadline, a cancel, or a 502/504 from a gateway whose backend may have acted).
 */
export type RequestOutcome = "not-sent" | "refused" | "unknown";

const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

export function requestOutcome(error: unknown): RequestOutcome {
  for (
    let current = error, depth = 0;
    current !== null && typeof current === "object" && depth < 4;
    depth++
  ) {
    const record = current as {
      code?: unknown;
      $metadata?: { httpStatusCode?: unknown };
      cause?: unknown;
    };
    const status = record.$metadata?.httpStatusCode;
    if (typeof status === "number") {
      return status === 502 || status === 504 ? "unknown" : "refused";
    }
    if (typeof record.code === "string" && NEVER_CONNECTED.has(record.code)) return "not-sent";
    current = record.cause;
  }
  return "unknown";
}

/** Worth sending again to a server that did not act: it refused the connection or asked to slow down. */
export function isWorthRetrying(error: unknown): boolean {
  const outcome = requestOutcome(error);
  if (outcome === "not-sent") return true;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return outcome === "refused" && (status === 503 || status === 429);
}
