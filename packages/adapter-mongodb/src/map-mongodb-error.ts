import { type ErrorCode, InfrastructureError, isInfrastructureError } from "@proj/ports";

/** Server error codes (src/mongo/base/error_codes.yml in the server) and the taxonomy code each means. */
const SERVER_CODES: ReadonlyMap<number, ErrorCode> = new Map([
  [11000, "CONFLICT"], // DuplicateKey
  [11001, "CONFLICT"], // legacy duplicate key on update
  [12582, "CONFLICT"], // legacy duplicate key on insert
  [112, "CONFLICT"], // WriteConflict
  [68, "CONFLICT"], // IndexAlreadyExists
  [85, "CONFLICT"], // IndexOptionsConflict
  [86, "CONFLICT"], // IndexKeySpecsConflict
  [48, "CONFLICT"], // NamespaceExists
  [26, "NOT_FOUND"], // NamespaceNotFound
  [2, "INVALID_ARGUMENT"], // BadValue
  [9, "INVALID_ARGUMENT"], // FailedToParse
  [14, "INVALID_ARGUMENT"], // TypeMismatch ($inc on a non-number)
  [28, "INVALID_ARGUMENT"], // PathNotViable
  [40, "INVALID_ARGUMENT"], // ConflictingUpdateOperators
  [52, "INVALID_ARGUMENT"], // DollarPrefixedFieldName
  [56, "INVALID_ARGUMENT"], // EmptyFieldName
  [57, "INVALID_ARGUMENT"], // DottedFieldName
  [66, "INVALID_ARGUMENT"], // ImmutableField (_id)
  [73, "INVALID_ARGUMENT"], // InvalidNamespace
  [17, "RESOURCE_EXHAUSTED"], // document or command too large (legacy)
  [10334, "RESOURCE_EXHAUSTED"], // BSONObjectTooLarge
  [17419, "RESOURCE_EXHAUSTED"], // an update would grow the document past 16 MiB
  [16500, "RESOURCE_EXHAUSTED"], // request rate too large (Cosmos DB's MongoDB API)
  [292, "RESOURCE_EXHAUSTED"], // QueryExceededMemoryLimitNoDiskUseAllowed
  [13, "PERMISSION_DENIED"], // Unauthorized
  [18, "UNAUTHENTICATED"], // AuthenticationFailed
  [50, "TIMEOUT"], // MaxTimeMSExpired
  [89, "TIMEOUT"], // NetworkTimeout
  [262, "TIMEOUT"], // ExceededTimeLimit
  [11601, "CANCELLED"], // Interrupted
  [6, "UNAVAILABLE"], // HostUnreachable
  [7, "UNAVAILABLE"], // HostNotFound
  [91, "UNAVAILABLE"], // ShutdownInProgress
  [189, "UNAVAILABLE"], // PrimarySteppedDown
  [9001, "UNAVAILABLE"], // SocketException
  [10107, "UNAVAILABLE"], // NotWritablePrimary
  [11600, "UNAVAILABLE"], // InterruptedAtShutdown
  [11602, "UNAVAILABLE"], // InterruptedDueToReplStateChange
  [13435, "UNAVAILABLE"], // NotPrimaryNoSecondaryOk
  [13436, "UNAVAILABLE"], // NotPrimaryOrSecondary
  [20, "NOT_SUPPORTED"], // IllegalOperation (transactions on a standalone server)
  [59, "NOT_SUPPORTED"], // CommandNotFound
  [115, "NOT_SUPPORTED"], // CommandNotSupported
  [303, "NOT_SUPPORTED"], // ApiNotImplemented
  [263, "NOT_SUPPORTED"], // OperationNotSupportedInTransaction (listIndexes, createIndexes on a full collection)
  [251, "CONFLICT"], // NoSuchTransaction (aborted by a conflict or a timeout)
]);

/** Driver error classes by `name`, so duplicate installed copies of the driver classify alike. */
const DRIVER_NAMES: ReadonlyMap<string, ErrorCode> = new Map([
  ["MongoNetworkTimeoutError", "TIMEOUT"],
  ["MongoOperationTimeoutError", "TIMEOUT"],
  ["MongoNetworkError", "UNAVAILABLE"],
  ["MongoServerSelectionError", "UNAVAILABLE"],
  ["MongoServerClosedError", "UNAVAILABLE"],
  ["MongoPoolClearedError", "UNAVAILABLE"],
  ["MongoTopologyClosedError", "CLOSED"],
  ["MongoNotConnectedError", "CLOSED"],
  ["MongoClientClosedError", "CLOSED"],
  ["MongoExpiredSessionError", "CLOSED"],
  ["MongoParseError", "INVALID_ARGUMENT"],
  ["MongoInvalidArgumentError", "INVALID_ARGUMENT"],
  ["BSONError", "INVALID_ARGUMENT"],
  ["MongoCompatibilityError", "NOT_SUPPORTED"],
  ["MongoMissingDependencyError", "NOT_SUPPORTED"],
  ["MongoTransactionError", "INVALID_ARGUMENT"],
  ["AbortError", "CANCELLED"],
]);

/** Node's socket error codes: the network failed, not the request. */
const SOCKET_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Throttling is the one resource limit that passes with time; a too-large document never does. */
const THROTTLED = 16500;

const RETRYABLE_LABELS = ["TransientTransactionError", "RetryableWriteError", "ResetPool"];

interface MongoLikeError {
  name?: unknown;
  code?: unknown;
  codeName?: unknown;
  errorLabels?: unknown;
  writeErrors?: unknown;
  errorLabelSet?: unknown;
}

function labelsOf(error: MongoLikeError): string[] {
  if (Array.isArray(error.errorLabels))
    return error.errorLabels.filter((l): l is string => typeof l === "string");
  if (error.errorLabelSet instanceof Set)
    return [...error.errorLabelSet].filter((l): l is string => typeof l === "string");
  return [];
}

/** The server code of an error, looking into the first write error of a bulk write. */
function serverCode(error: MongoLikeError): number | undefined {
  if (typeof error.code === "number") return error.code;
  if (Array.isArray(error.writeErrors)) {
    const first: unknown = error.writeErrors[0];
    if (
      typeof first === "object" &&
      first !== null &&
      typeof (first as { code?: unknown }).code === "number"
    ) {
      return (first as { code: number }).code;
    }
  }
  return undefined;
}

/**
 * Maps anything the driver throws to the taxonomy. `what` names the operation and the collection;
 * the message never repeats the server's text, which can quote the duplicate values themselves.
 */
export function mapMongoError(error: unknown, what: string): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  const shaped: MongoLikeError = typeof error === "object" && error !== null ? (error as MongoLikeError) : {};
  const name = typeof shaped.name === "string" ? shaped.name : "Error";
  const code = serverCode(shaped);
  const labels = labelsOf(shaped);
  let mapped: ErrorCode | undefined = code === undefined ? undefined : SERVER_CODES.get(code);
  if (mapped === undefined) mapped = DRIVER_NAMES.get(name);
  // The driver lets some socket errors out unwrapped (a write on a connection the peer reset).
  if (mapped === undefined && SOCKET_CODES.has(String(shaped.code))) mapped = "UNAVAILABLE";
  if (mapped === undefined && labels.includes("TransientTransactionError")) mapped = "CONFLICT";
  mapped ??= "INTERNAL";
  const retryable =
    mapped === "CONFLICT"
      ? code === 112 || code === 251 || labels.includes("TransientTransactionError")
      : labels.some((label) => RETRYABLE_LABELS.includes(label)) ||
        code === THROTTLED ||
        mapped === "TIMEOUT" ||
        mapped === "UNAVAILABLE";
  const codeName = typeof shaped.codeName === "string" ? shaped.codeName : undefined;
  const reason = codeName ?? (code === undefined ? name : `code ${code}`);
  return new InfrastructureError(mapped, `${what} failed: ${reason}`, {
    cause: error,
    retryable,
    details: {
      ...(code === undefined ? {} : { mongoCode: code }),
      ...(codeName === undefined ? {} : { codeName }),
      driverError: name,
      ...(labels.length > 0 ? { labels } : {}),
    },
  });
}

/** Driver errors raised before a request could be written to a connection. */
const NEVER_SENT = new Set([
  "MongoServerSelectionError",
  "MongoPoolClearedError",
  "MongoServerClosedError",
  "MongoTopologyClosedError",
  "MongoNotConnectedError",
  "MongoClientClosedError",
]);

/**
 * Whether a failed request may have reached the server and run there: a network error or timeout on
 * an established connection may come after the server acted. An answer from the server, a failure
 * to select a server or to open the connection (before its handshake) means it never ran.
 */
export function requestMayHaveRun(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return true;
  const shaped = error as { name?: unknown; beforeHandshake?: unknown; errorResponse?: unknown };
  if (typeof shaped.name === "string" && NEVER_SENT.has(shaped.name)) return false;
  if (shaped.beforeHandshake === true || shaped.errorResponse !== undefined) return false;
  // A failed connect sent nothing; a failed socket write means the request never arrived whole,
  // and the server runs only whole requests.
  const syscall = socketSyscall(error);
  return syscall !== "connect" && syscall !== "write";
}

/** The `syscall` of the socket error at the root of `error` (the driver wraps it as `cause`). */
function socketSyscall(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const syscall = (current as { syscall?: unknown }).syscall;
    if (typeof syscall === "string") return syscall;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
