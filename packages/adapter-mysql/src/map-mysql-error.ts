import {
  cancelledError,
  classifySqlState,
  type ErrorCode,
  InfrastructureError,
  isInfrastructureError,
} from "@proj/ports";

/** Why the adapter itself interrupted a statement, if it did. */
export type Interruption = "timeout" | "abort";

export interface MysqlErrorContext {
  /** What was being done, for the message ("Query on MySQL", "COMMIT"). */
  what: string;
  /** Set when the adapter killed the statement (timeout or abort) before the error arrived. */
  interruption?: Interruption | undefined;
  signal?: AbortSignal | undefined;
}

/** The fields mysql2 puts on server and connection errors. */
interface MysqlDriverError {
  message?: string;
  code?: string;
  errno?: number;
  sqlState?: string;
  fatal?: boolean;
}

interface Classification {
  code: ErrorCode;
  retryable?: boolean;
}

const BY_ERRNO: ReadonlyMap<number, Classification> = new Map<number, Classification>([
  [1062, { code: "CONFLICT" }], // ER_DUP_ENTRY
  [1022, { code: "CONFLICT" }], // ER_DUP_KEY
  [1586, { code: "CONFLICT" }], // ER_DUP_ENTRY_WITH_KEY_NAME
  [1169, { code: "CONFLICT" }], // ER_DUP_UNIQUE
  [1216, { code: "CONFLICT" }], // ER_NO_REFERENCED_ROW
  [1217, { code: "CONFLICT" }], // ER_ROW_IS_REFERENCED
  [1451, { code: "CONFLICT" }], // ER_ROW_IS_REFERENCED_2
  [1452, { code: "CONFLICT" }], // ER_NO_REFERENCED_ROW_2
  [1213, { code: "CONFLICT", retryable: true }], // ER_LOCK_DEADLOCK
  [1020, { code: "CONFLICT", retryable: true }], // ER_CHECKREAD: record changed since last read
  [1205, { code: "TIMEOUT", retryable: true }], // ER_LOCK_WAIT_TIMEOUT
  [3572, { code: "CONFLICT", retryable: true }], // ER_LOCK_NOWAIT (NOWAIT on a locked row)
  [1969, { code: "TIMEOUT", retryable: true }], // ER_STATEMENT_TIMEOUT
  [3024, { code: "TIMEOUT", retryable: true }], // ER_QUERY_TIMEOUT
  [1317, { code: "CANCELLED", retryable: false }], // ER_QUERY_INTERRUPTED by someone else's KILL
  [1064, { code: "INVALID_ARGUMENT" }], // ER_PARSE_ERROR
  [1146, { code: "INVALID_ARGUMENT" }], // ER_NO_SUCH_TABLE
  [1054, { code: "INVALID_ARGUMENT" }], // ER_BAD_FIELD_ERROR
  [1049, { code: "INVALID_ARGUMENT" }], // ER_BAD_DB_ERROR
  [1048, { code: "INVALID_ARGUMENT" }], // ER_BAD_NULL_ERROR
  [1364, { code: "INVALID_ARGUMENT" }], // ER_NO_DEFAULT_FOR_FIELD
  [1366, { code: "INVALID_ARGUMENT" }], // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  [1292, { code: "INVALID_ARGUMENT" }], // ER_TRUNCATED_WRONG_VALUE
  [1264, { code: "INVALID_ARGUMENT" }], // ER_WARN_DATA_OUT_OF_RANGE
  [1406, { code: "INVALID_ARGUMENT" }], // ER_DATA_TOO_LONG
  [1265, { code: "INVALID_ARGUMENT" }], // WARN_DATA_TRUNCATED
  [1210, { code: "INVALID_ARGUMENT" }], // ER_WRONG_ARGUMENTS (e.g. bad prepared-statement arguments)
  [1792, { code: "INVALID_ARGUMENT" }], // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  [4025, { code: "INVALID_ARGUMENT" }], // ER_CONSTRAINT_FAILED (MariaDB CHECK)
  [3819, { code: "INVALID_ARGUMENT" }], // ER_CHECK_CONSTRAINT_VIOLATED (MySQL CHECK)
  [1044, { code: "PERMISSION_DENIED" }], // ER_DBACCESS_DENIED_ERROR
  [1045, { code: "PERMISSION_DENIED" }], // ER_ACCESS_DENIED_ERROR (bad user or password)
  [1142, { code: "PERMISSION_DENIED" }], // ER_TABLEACCESS_DENIED_ERROR
  [1143, { code: "PERMISSION_DENIED" }], // ER_COLUMNACCESS_DENIED_ERROR
  [1227, { code: "PERMISSION_DENIED" }], // ER_SPECIFIC_ACCESS_DENIED_ERROR
  [1370, { code: "PERMISSION_DENIED" }], // ER_PROCACCESS_DENIED_ERROR
  [1040, { code: "UNAVAILABLE" }], // ER_CON_COUNT_ERROR: too many connections
  [1203, { code: "UNAVAILABLE" }], // ER_TOO_MANY_USER_CONNECTIONS
  [1053, { code: "UNAVAILABLE" }], // ER_SERVER_SHUTDOWN
  [1927, { code: "UNAVAILABLE" }], // ER_CONNECTION_KILLED (MariaDB)
  [4031, { code: "UNAVAILABLE" }], // ER_CLIENT_INTERACTION_TIMEOUT (MySQL idle disconnect)
  [2013, { code: "UNAVAILABLE" }], // CR_SERVER_LOST
  [1114, { code: "RESOURCE_EXHAUSTED" }], // ER_RECORD_FILE_FULL
  [1153, { code: "RESOURCE_EXHAUSTED" }], // ER_NET_PACKET_TOO_LARGE
  [1461, { code: "RESOURCE_EXHAUSTED" }], // ER_MAX_PREPARED_STMT_COUNT_REACHED
]);

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR",
  "PROTOCOL_ENQUEUE_AFTER_QUIT",
]);

function classify(error: MysqlDriverError): Classification {
  const byErrno = error.errno === undefined ? undefined : BY_ERRNO.get(error.errno);
  if (byErrno) return byErrno;
  if (error.code !== undefined && CONNECTION_CODES.has(error.code)) return { code: "UNAVAILABLE" };
  // Errnos not listed above fall back to their SQLSTATE, which MySQL fills for most errors.
  if (typeof error.sqlState === "string" && error.sqlState !== "HY000") {
    const bySqlState = classifySqlState(error.sqlState);
    if (bySqlState.code !== "INTERNAL") return bySqlState;
  }
  // mysql2 marks errors that leave the connection unusable (closed socket, handshake failure).
  if (error.fatal === true) return { code: "UNAVAILABLE" };
  return { code: "INTERNAL", retryable: false };
}

function asDriverError(error: unknown): MysqlDriverError {
  return typeof error === "object" && error !== null ? (error as MysqlDriverError) : {};
}

/**
 * True when the error is the server's own answer (an error packet, which carries a SQLSTATE): the
 * statement ended on the server, so its outcome is known. Socket errors and lost connections
 * carry none.
 */
export function hasServerReply(error: unknown): boolean {
  return typeof asDriverError(error).sqlState === "string";
}

/** True when the connection the error came from cannot be used again. */
export function isConnectionLost(error: unknown): boolean {
  const driverError = asDriverError(error);
  return driverError.fatal === true || classify(driverError).code === "UNAVAILABLE";
}

/**
 * Turns whatever mysql2 threw into a taxonomy error. When the adapter interrupted the statement
 * itself (timeout or abort), the error reports that, whatever form the server's answer took.
 */
export function mapMysqlError(error: unknown, context: MysqlErrorContext): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  const driverError = asDriverError(error);
  const details: Record<string, unknown> = {};
  if (driverError.sqlState !== undefined) details.sqlState = driverError.sqlState;
  if (driverError.errno !== undefined) details.errno = driverError.errno;
  if (driverError.code !== undefined) details.driverCode = driverError.code;
  const reason = driverError.message ?? String(error);

  if (context.interruption === "abort" && context.signal) {
    const cancelled = cancelledError(context.signal, context.what);
    return new InfrastructureError(cancelled.code, cancelled.message, {
      cause: error,
      retryable: cancelled.retryable,
      details,
    });
  }
  if (context.interruption === "timeout") {
    return new InfrastructureError("TIMEOUT", `${context.what} exceeded its statement timeout`, {
      cause: error,
      retryable: true,
      details,
    });
  }
  const { code, retryable } = classify(driverError);
  return new InfrastructureError(code, `${context.what} failed: ${reason}`, {
    cause: error,
    ...(retryable === undefined ? {} : { retryable }),
    details,
  });
}
