import type { ErrorCode } from "./errors.js";

/** Where a SQLSTATE lands in the taxonomy, and whether the same call may succeed if tried again. */
export interface SqlStateClass {
  code: ErrorCode;
  retryable: boolean;
}

/** Exact codes whose class alone would mislead (SQL:2016 and PostgreSQL Appendix A). */
const BY_CODE: Readonly<Record<string, SqlStateClass>> = {
  // Integrity: a duplicate or a dangling reference is a conflict with stored data...
  "23000": { code: "CONFLICT", retryable: false },
  "23505": { code: "CONFLICT", retryable: false },
  "23503": { code: "CONFLICT", retryable: false },
  "23P01": { code: "CONFLICT", retryable: false },
  // ...while a missing or out-of-range value is the caller's mistake.
  "23502": { code: "INVALID_ARGUMENT", retryable: false },
  "23514": { code: "INVALID_ARGUMENT", retryable: false },
  "23001": { code: "CONFLICT", retryable: false },
  "28P01": { code: "UNAUTHENTICATED", retryable: false },
  "42501": { code: "PERMISSION_DENIED", retryable: false },
  // Statement completion unknown: the write may have committed, so a blind retry could repeat it.
  "40003": { code: "UNAVAILABLE", retryable: false },
  "55P03": { code: "CONFLICT", retryable: true },
  "55006": { code: "CONFLICT", retryable: true },
  "57014": { code: "TIMEOUT", retryable: true },
  "57P01": { code: "UNAVAILABLE", retryable: true },
  "57P02": { code: "UNAVAILABLE", retryable: true },
  "57P03": { code: "UNAVAILABLE", retryable: true },
  "57P04": { code: "UNAVAILABLE", retryable: false },
  "57P05": { code: "UNAVAILABLE", retryable: true },
  "70100": { code: "CANCELLED", retryable: false },
};

/** The first two characters of a SQLSTATE name its class. */
const BY_CLASS: Readonly<Record<string, SqlStateClass>> = {
  "08": { code: "UNAVAILABLE", retryable: true },
  "0A": { code: "NOT_SUPPORTED", retryable: false },
  "21": { code: "INVALID_ARGUMENT", retryable: false },
  "22": { code: "INVALID_ARGUMENT", retryable: false },
  "23": { code: "CONFLICT", retryable: false },
  "24": { code: "INVALID_ARGUMENT", retryable: false },
  "25": { code: "INVALID_ARGUMENT", retryable: false },
  "26": { code: "INVALID_ARGUMENT", retryable: false },
  "27": { code: "CONFLICT", retryable: false },
  "28": { code: "PERMISSION_DENIED", retryable: false },
  "2B": { code: "CONFLICT", retryable: false },
  "34": { code: "INVALID_ARGUMENT", retryable: false },
  "3D": { code: "INVALID_ARGUMENT", retryable: false },
  "3F": { code: "INVALID_ARGUMENT", retryable: false },
  "40": { code: "CONFLICT", retryable: true },
  "42": { code: "INVALID_ARGUMENT", retryable: false },
  "44": { code: "INVALID_ARGUMENT", retryable: false },
  "53": { code: "RESOURCE_EXHAUSTED", retryable: true },
  "54": { code: "RESOURCE_EXHAUSTED", retryable: false },
  "55": { code: "INVALID_ARGUMENT", retryable: false },
  "57": { code: "UNAVAILABLE", retryable: true },
  "72": { code: "CONFLICT", retryable: true },
};

const UNKNOWN: SqlStateClass = { code: "INTERNAL", retryable: false };

/**
 * Classifies a SQLSTATE (PostgreSQL, MySQL and MariaDB all report one) into the error taxonomy,
 * as the `SqlDatabase` contract spells it out: unique or foreign key violation → `CONFLICT`;
 * syntax, unknown object or bad value → `INVALID_ARGUMENT`; deadlock and serialization failure
 * (class 40) → `CONFLICT`, retryable; statement cancelled by a timeout (57014) → `TIMEOUT`;
 * connection failure (class 08) or server shutdown → `UNAVAILABLE`. Unknown codes are `INTERNAL`.
 *
 * Adapters refine what a SQLSTATE alone cannot tell: MySQL reports several distinct errors as
 * `23000` or `HY000`, and a PostgreSQL `57014` is `CANCELLED` when the adapter itself cancelled
 * the statement for an `AbortSignal`.
 */
export function classifySqlState(sqlState: string): SqlStateClass {
  const upper = sqlState.toUpperCase();
  return BY_CODE[upper] ?? BY_CLASS[upper.slice(0, 2)] ?? UNKNOWN;
}
