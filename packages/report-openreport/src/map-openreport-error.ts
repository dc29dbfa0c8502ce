import { cancelledError, InfrastructureError, isInfrastructureError } from "@proj/ports";
import { RowSourceError } from "./report-engine.js";

export interface ErrorContext {
  /** What was being written, e.g. `xlsx report`. */
  what: string;
  signal?: AbortSignal | undefined;
}

const OUTPUT_GONE = new Set([
  "EPIPE",
  "ECONNRESET",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
]);

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
}

/**
 * Turns whatever stopped a report into a taxonomy error. Taxonomy errors pass through unchanged,
 * including those a row source threw (a database adapter's `UNAVAILABLE` stays `UNAVAILABLE`).
 */
export function mapOpenReportError(error: unknown, context: ErrorContext): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  if (context.signal?.aborted) return cancelledError(context.signal, `writing the ${context.what}`);
  if (error instanceof RowSourceError) {
    if (isInfrastructureError(error.cause)) return error.cause;
    return new InfrastructureError("INTERNAL", `${context.what}: ${error.message}`, {
      cause: error.cause,
      retryable: false,
      details: { sheet: error.sheet, row: error.row },
    });
  }
  const code = errorCode(error);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new InfrastructureError("RESOURCE_EXHAUSTED", `${context.what}: no space left on the output`, {
      cause: error,
      retryable: false,
    });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new InfrastructureError("PERMISSION_DENIED", `${context.what}: the output refused the write`, {
      cause: error,
    });
  }
  if (code === "ENOENT") {
    return new InfrastructureError("NOT_FOUND", `${context.what}: the output's path does not exist`, {
      cause: error,
      retryable: false,
    });
  }
  if (typeof code === "string" && OUTPUT_GONE.has(code)) {
    return new InfrastructureError(
      "UNAVAILABLE",
      `${context.what}: the output closed before the report was complete`,
      {
        cause: error,
        retryable: false,
      },
    );
  }
  return new InfrastructureError("INTERNAL", `${context.what} failed: ${String(error)}`, { cause: error });
}
