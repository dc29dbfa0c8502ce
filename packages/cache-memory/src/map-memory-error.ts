import { InfrastructureError, isInfrastructureError } from "@proj/ports";

/**
 * Classifies an error thrown by a value hook (`structuredClone` for the `clone` option, the caller's
 * `sizeOf`). A value that cannot be copied or measured is the caller's mistake, not the cache's.
 */
export function mapMemoryError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  const name = error instanceof Error ? error.name : undefined;
  if (name === "DataCloneError" || error instanceof TypeError || error instanceof RangeError) {
    return new InfrastructureError("INVALID_ARGUMENT", `${what} failed: ${(error as Error).message}`, {
      cause: error,
      retryable: false,
    });
  }
  return new InfrastructureError("INTERNAL", `${what} failed`, { cause: error, retryable: false });
}
