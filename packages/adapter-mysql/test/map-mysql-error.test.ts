import type { ErrorCode } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { hasServerReply, mapMysqlError } from "../src/map-mysql-error.js";

/** Shaped like the errors mysql2 raises: server errors carry errno and SQLSTATE, socket errors a code. */
function driverError(fields: { code?: string; errno?: number; sqlState?: string; fatal?: boolean }): Error {
  return Object.assign(new Error(`driver says ${fields.code ?? fields.errno}`), fields);
}

const cases: Array<[string, Error, ErrorCode, boolean]> = [
  ["ER_DUP_ENTRY", driverError({ code: "ER_DUP_ENTRY", errno: 1062, sqlState: "23000" }), "CONFLICT", false],
  ["ER_NO_REFERENCED_ROW_2", driverError({ errno: 1452, sqlState: "23000" }), "CONFLICT", false],
  ["ER_ROW_IS_REFERENCED_2", driverError({ errno: 1451, sqlState: "23000" }), "CONFLICT", false],
  [
    "ER_LOCK_DEADLOCK",
    driverError({ code: "ER_LOCK_DEADLOCK", errno: 1213, sqlState: "40001" }),
    "CONFLICT",
    true,
  ],
  ["ER_LOCK_WAIT_TIMEOUT", driverError({ errno: 1205, sqlState: "HY000" }), "TIMEOUT", true],
  ["ER_PARSE_ERROR", driverError({ errno: 1064, sqlState: "42000" }), "INVALID_ARGUMENT", false],
  ["ER_NO_SUCH_TABLE", driverError({ errno: 1146, sqlState: "42S02" }), "INVALID_ARGUMENT", false],
  ["ER_BAD_FIELD_ERROR", driverError({ errno: 1054, sqlState: "42S22" }), "INVALID_ARGUMENT", false],
  [
    "ER_BAD_NULL_ERROR (SQLSTATE 23000, yet a bad value)",
    driverError({ errno: 1048, sqlState: "23000" }),
    "INVALID_ARGUMENT",
    false,
  ],
  ["ER_DATA_TOO_LONG", driverError({ errno: 1406, sqlState: "22001" }), "INVALID_ARGUMENT", false],
  [
    "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
    driverError({ errno: 1366, sqlState: "22007" }),
    "INVALID_ARGUMENT",
    false,
  ],
  ["read-only transaction write", driverError({ errno: 1792, sqlState: "25006" }), "INVALID_ARGUMENT", false],
  ["ER_ACCESS_DENIED_ERROR", driverError({ errno: 1045, sqlState: "28000" }), "PERMISSION_DENIED", false],
  [
    "ER_TABLEACCESS_DENIED_ERROR",
    driverError({ errno: 1142, sqlState: "42000" }),
    "PERMISSION_DENIED",
    false,
  ],
  ["ER_DBACCESS_DENIED_ERROR", driverError({ errno: 1044, sqlState: "42000" }), "PERMISSION_DENIED", false],
  ["ECONNREFUSED", driverError({ code: "ECONNREFUSED", fatal: true }), "UNAVAILABLE", true],
  [
    "PROTOCOL_CONNECTION_LOST",
    driverError({ code: "PROTOCOL_CONNECTION_LOST", fatal: true }),
    "UNAVAILABLE",
    true,
  ],
  ["ECONNRESET", driverError({ code: "ECONNRESET", fatal: true }), "UNAVAILABLE", true],
  ["connect ETIMEDOUT", driverError({ code: "ETIMEDOUT", fatal: true }), "UNAVAILABLE", true],
  [
    "ER_CON_COUNT_ERROR (too many connections)",
    driverError({ errno: 1040, sqlState: "08004" }),
    "UNAVAILABLE",
    true,
  ],
  ["ER_CONNECTION_KILLED", driverError({ errno: 1927, sqlState: "70100" }), "UNAVAILABLE", true],
  ["ER_SERVER_SHUTDOWN", driverError({ errno: 1053, sqlState: "08S01" }), "UNAVAILABLE", true],
  ["unclassified fatal error", driverError({ fatal: true }), "UNAVAILABLE", true],
  ["MariaDB max_statement_time", driverError({ errno: 1969, sqlState: "70100" }), "TIMEOUT", true],
  ["MySQL MAX_EXECUTION_TIME", driverError({ errno: 3024, sqlState: "HY000" }), "TIMEOUT", true],
  ["a KILL QUERY someone else sent", driverError({ errno: 1317, sqlState: "70100" }), "CANCELLED", false],
  ["ER_RECORD_FILE_FULL", driverError({ errno: 1114, sqlState: "HY000" }), "RESOURCE_EXHAUSTED", true],
  [
    "unlisted errno, known SQLSTATE class 42",
    driverError({ errno: 1999, sqlState: "42000" }),
    "INVALID_ARGUMENT",
    false,
  ],
  ["unlisted errno, generic HY000", driverError({ errno: 1998, sqlState: "HY000" }), "INTERNAL", false],
  ["not an error object at all", "boom" as unknown as Error, "INTERNAL", false],
];

describe("mapMysqlError", () => {
  it.each(cases)("classifies %s", (_name, error, code, retryable) => {
    const mapped = mapMysqlError(error, { what: "MySQL query on items" });
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.cause).toBe(error);
    expect(mapped.message).toContain("MySQL query on items");
  });

  it("keeps the SQLSTATE and errno in details", () => {
    const mapped = mapMysqlError(driverError({ code: "ER_DUP_ENTRY", errno: 1062, sqlState: "23000" }), {
      what: "insert",
    });
    expect(mapped.details).toEqual({ sqlState: "23000", errno: 1062, driverCode: "ER_DUP_ENTRY" });
  });

  it("reports an interruption the adapter caused by its timeout as TIMEOUT", () => {
    const killed = driverError({ errno: 1317, sqlState: "70100" });
    const mapped = mapMysqlError(killed, { what: "query", interruption: "timeout" });
    expect([mapped.code, mapped.retryable, mapped.cause]).toEqual(["TIMEOUT", true, killed]);
  });

  it("reports an interruption the adapter caused for an abort as CANCELLED", () => {
    const controller = new AbortController();
    controller.abort();
    const mapped = mapMysqlError(driverError({ errno: 1317 }), {
      what: "query",
      interruption: "abort",
      signal: controller.signal,
    });
    expect([mapped.code, mapped.retryable]).toEqual(["CANCELLED", false]);
  });

  it("reports an abort through AbortSignal.timeout as TIMEOUT", () => {
    const signal = AbortSignal.abort(new DOMException("timed out", "TimeoutError"));
    const mapped = mapMysqlError(driverError({ code: "PROTOCOL_CONNECTION_LOST", fatal: true }), {
      what: "query",
      interruption: "abort",
      signal,
    });
    expect(mapped.code).toBe("TIMEOUT");
  });

  it("passes taxonomy errors through unchanged", () => {
    const original = mapMysqlError(driverError({ errno: 1062 }), { what: "first" });
    expect(mapMysqlError(original, { what: "second" })).toBe(original);
  });
});

describe("hasServerReply", () => {
  it("is true for an error packet from the server, whose statement ended there", () => {
    expect(hasServerReply(driverError({ errno: 1927, sqlState: "70100" }))).toBe(true);
    expect(hasServerReply(driverError({ errno: 1317, sqlState: "70100" }))).toBe(true);
  });

  it("is false for a socket that closed or reset with no answer", () => {
    expect(hasServerReply(driverError({ code: "PROTOCOL_CONNECTION_LOST", fatal: true }))).toBe(false);
    expect(hasServerReply(driverError({ code: "ECONNRESET", errno: -104 }))).toBe(false);
    expect(hasServerReply(undefined)).toBe(false);
  });
});
