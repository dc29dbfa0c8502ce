import { type ErrorCode, InfrastructureError } from "@proj/ports";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { mapPostgresError } from "../src/map-postgres-error.js";

function serverError(code: string, fields: Record<string, string> = {}): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError("server said no", 100, "error"), { code, ...fields });
}

const SQLSTATE_CASES: Array<[string, string, ErrorCode, boolean]> = [
  ["unique violation", "23505", "CONFLICT", false],
  ["foreign key violation", "23503", "CONFLICT", false],
  ["exclusion violation", "23P01", "CONFLICT", false],
  ["not null violation", "23502", "INVALID_ARGUMENT", false],
  ["check violation", "23514", "INVALID_ARGUMENT", false],
  ["syntax error", "42601", "INVALID_ARGUMENT", false],
  ["undefined table", "42P01", "INVALID_ARGUMENT", false],
  ["undefined column", "42703", "INVALID_ARGUMENT", false],
  ["value too long", "22001", "INVALID_ARGUMENT", false],
  ["invalid text representation", "22P02", "INVALID_ARGUMENT", false],
  ["read-only transaction", "25006", "INVALID_ARGUMENT", false],
  ["serialization failure", "40001", "CONFLICT", true],
  ["deadlock", "40P01", "CONFLICT", true],
  ["lock not available", "55P03", "CONFLICT", true],
  ["statement timeout", "57014", "TIMEOUT", true],
  ["admin shutdown (terminated backend)", "57P01", "UNAVAILABLE", true],
  ["cannot connect now (starting up)", "57P03", "UNAVAILABLE", true],
  ["connection failure", "08006", "UNAVAILABLE", true],
  ["too many connections", "53300", "RESOURCE_EXHAUSTED", true],
  ["disk full", "53100", "RESOURCE_EXHAUSTED", true],
  ["insufficient privilege", "42501", "PERMISSION_DENIED", false],
  ["bad password", "28P01", "UNAUTHENTICATED", false],
  ["feature not supported", "0A000", "NOT_SUPPORTED", false],
  ["internal error", "XX000", "INTERNAL", false],
];

describe("mapPostgresError", () => {
  it.each(SQLSTATE_CASES)("maps %s (%s) to %s, retryable %s", (_name, sqlState, code, retryable) => {
    const driverError = serverError(sqlState);
    const mapped = mapPostgresError(driverError, "query");
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.details.sqlState).toBe(sqlState);
    expect(mapped.cause).toBe(driverError);
    expect(mapped.message).toContain("query failed");
  });

  it("keeps table and constraint but never the detail, which echoes the row's values", () => {
    const driverError = serverError("23505", {
      table: "users",
      constraint: "users_email_key",
      detail: "Key (email)=(secret@example.com) already exists.",
    });
    const mapped = mapPostgresError(driverError, "execute");
    expect(mapped.details).toEqual({ sqlState: "23505", table: "users", constraint: "users_email_key" });
    expect(JSON.stringify(mapped.details)).not.toContain("secret@example.com");
    expect(mapped.message).not.toContain("secret@example.com");
  });

  const NON_SQL_CASES: Array<[string, Error, ErrorCode]> = [
    [
      "connection refused",
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      "UNAVAILABLE",
    ],
    ["connection reset", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "UNAVAILABLE"],
    [
      "unknown host",
      Object.assign(new Error("getaddrinfo ENOTFOUND db"), { code: "ENOTFOUND" }),
      "UNAVAILABLE",
    ],
    ["pool wait timeout", new Error("timeout exceeded when trying to connect"), "TIMEOUT"],
    ["connect timeout", new Error("Connection terminated due to connection timeout"), "TIMEOUT"],
    ["connection lost", new Error("Connection terminated unexpectedly"), "UNAVAILABLE"],
    [
      "client not queryable",
      new Error("Client has encountered a connection error and is not queryable"),
      "UNAVAILABLE",
    ],
    ["pool ended", new Error("Cannot use a pool after calling end on the pool"), "CLOSED"],
    ["anything else", new Error("something odd"), "INTERNAL"],
  ];

  it.each(NON_SQL_CASES)("maps %s to %s", (_name, driverError, code) => {
    const mapped = mapPostgresError(driverError, "ping");
    expect(mapped.code).toBe(code);
    expect(mapped.cause).toBe(driverError);
  });

  it("passes a taxonomy error through unchanged", () => {
    const original = new InfrastructureError("CANCELLED", "stopped");
    expect(mapPostgresError(original, "query")).toBe(original);
  });

  it("maps a thrown non-object to INTERNAL", () => {
    expect(mapPostgresError("boom", "query").code).toBe("INTERNAL");
  });
});
