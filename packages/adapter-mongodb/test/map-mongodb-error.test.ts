import { type ErrorCode, InfrastructureError } from "@proj/ports";
import {
  MongoBulkWriteError,
  MongoExpiredSessionError,
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from "mongodb";
import { describe, expect, it } from "vitest";
import { mapMongoError } from "../src/map-mongodb-error.js";

function serverError(code: number, codeName: string, labels: string[] = []): MongoServerError {
  return new MongoServerError({
    ok: 0,
    code,
    codeName,
    errmsg: `E${code} with a secret value`,
    errorLabels: labels,
  });
}

const cases: { name: string; error: unknown; code: ErrorCode; retryable: boolean }[] = [
  { name: "duplicate key", error: serverError(11000, "DuplicateKey"), code: "CONFLICT", retryable: false },
  {
    name: "duplicate key inside a bulk write",
    error: new MongoBulkWriteError({ message: "E11000", code: 11000, writeErrors: [] }, {
      insertedCount: 1,
      matchedCount: 0,
      modifiedCount: 0,
      deletedCount: 0,
      upsertedCount: 0,
      insertedIds: {},
      upsertedIds: {},
    } as never),
    code: "CONFLICT",
    retryable: false,
  },
  {
    name: "write conflict",
    error: serverError(112, "WriteConflict", ["TransientTransactionError"]),
    code: "CONFLICT",
    retryable: true,
  },
  {
    name: "no such transaction",
    error: serverError(251, "NoSuchTransaction"),
    code: "CONFLICT",
    retryable: true,
  },
  {
    name: "index key specs conflict",
    error: serverError(86, "IndexKeySpecsConflict"),
    code: "CONFLICT",
    retryable: false,
  },
  {
    name: "index options conflict",
    error: serverError(85, "IndexOptionsConflict"),
    code: "CONFLICT",
    retryable: false,
  },
  {
    name: "$inc on a string",
    error: serverError(14, "TypeMismatch"),
    code: "INVALID_ARGUMENT",
    retryable: false,
  },
  {
    name: "path not viable",
    error: serverError(28, "PathNotViable"),
    code: "INVALID_ARGUMENT",
    retryable: false,
  },
  {
    name: "namespace not found",
    error: serverError(26, "NamespaceNotFound"),
    code: "NOT_FOUND",
    retryable: false,
  },
  {
    name: "unauthorized",
    error: serverError(13, "Unauthorized"),
    code: "PERMISSION_DENIED",
    retryable: false,
  },
  {
    name: "authentication failed",
    error: serverError(18, "AuthenticationFailed"),
    code: "UNAUTHENTICATED",
    retryable: false,
  },
  { name: "maxTimeMS expired", error: serverError(50, "MaxTimeMSExpired"), code: "TIMEOUT", retryable: true },
  { name: "interrupted", error: serverError(11601, "Interrupted"), code: "CANCELLED", retryable: false },
  {
    name: "primary stepped down",
    error: serverError(189, "PrimarySteppedDown", ["RetryableWriteError"]),
    code: "UNAVAILABLE",
    retryable: true,
  },
  {
    name: "not writable primary",
    error: serverError(10107, "NotWritablePrimary"),
    code: "UNAVAILABLE",
    retryable: true,
  },
  {
    name: "document too large",
    error: serverError(10334, "BSONObjectTooLarge"),
    code: "RESOURCE_EXHAUSTED",
    retryable: false,
  },
  {
    name: "update growing a document past 16 MiB",
    error: serverError(17419, "Location17419"),
    code: "RESOURCE_EXHAUSTED",
    retryable: false,
  },
  {
    name: "throttled",
    error: serverError(16500, "RequestRateTooLarge"),
    code: "RESOURCE_EXHAUSTED",
    retryable: true,
  },
  {
    name: "transactions on a standalone",
    error: serverError(20, "IllegalOperation"),
    code: "NOT_SUPPORTED",
    retryable: false,
  },
  {
    name: "operation not supported in a transaction",
    error: serverError(263, "OperationNotSupportedInTransaction"),
    code: "NOT_SUPPORTED",
    retryable: false,
  },
  {
    name: "command not found",
    error: serverError(59, "CommandNotFound"),
    code: "NOT_SUPPORTED",
    retryable: false,
  },
  {
    name: "unknown server code",
    error: serverError(424242, "SomethingNew"),
    code: "INTERNAL",
    retryable: false,
  },
  {
    name: "network error",
    error: new MongoNetworkError("socket closed"),
    code: "UNAVAILABLE",
    retryable: true,
  },
  {
    name: "network timeout",
    error: new MongoNetworkTimeoutError("timed out"),
    code: "TIMEOUT",
    retryable: true,
  },
  {
    name: "server selection",
    error: new MongoServerSelectionError("no server", { type: "Unknown", servers: new Map() } as never),
    code: "UNAVAILABLE",
    retryable: true,
  },
  { name: "closed client", error: new MongoTopologyClosedError(), code: "CLOSED", retryable: false },
  { name: "expired session", error: new MongoExpiredSessionError(), code: "CLOSED", retryable: false },
  {
    name: "invalid argument",
    error: new MongoInvalidArgumentError("bad option"),
    code: "INVALID_ARGUMENT",
    retryable: false,
  },
  { name: "a plain Error", error: new Error("boom"), code: "INTERNAL", retryable: false },
  { name: "a thrown string", error: "boom", code: "INTERNAL", retryable: false },
];

describe("mapMongoError", () => {
  for (const { name, error, code, retryable } of cases) {
    it(`maps ${name} to ${code}${retryable ? " (retryable)" : ""}`, () => {
      const mapped = mapMongoError(error, "insertOne on collection users");
      expect(mapped.code).toBe(code);
      expect(mapped.retryable).toBe(retryable);
      expect(mapped.cause).toBe(error);
      expect(mapped.message).toContain("insertOne on collection users");
      expect(mapped.message).not.toContain("secret value");
    });
  }

  it("returns a taxonomy error unchanged", () => {
    const original = new InfrastructureError("INVALID_ARGUMENT", "already mapped");
    expect(mapMongoError(original, "x")).toBe(original);
  });

  it("records the server code and code name in details", () => {
    const mapped = mapMongoError(serverError(11000, "DuplicateKey"), "x");
    expect(mapped.details).toMatchObject({
      mongoCode: 11000,
      codeName: "DuplicateKey",
      driverError: "MongoServerError",
    });
  });
});
