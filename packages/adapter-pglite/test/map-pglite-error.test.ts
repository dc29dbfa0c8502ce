import { type ErrorCode, InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { mapPgliteError } from "../src/map-pglite-error.js";

function serverError(code: string): Error {
  return Object.assign(new Error("server said no"), { code, table: "items", detail: "Key (id)=(1)" });
}

const CASES: Array<[string, Error, ErrorCode]> = [
  ["unique violation", serverError("23505"), "CONFLICT"],
  ["foreign key violation", serverError("23503"), "CONFLICT"],
  ["not null violation", serverError("23502"), "INVALID_ARGUMENT"],
  ["syntax error", serverError("42601"), "INVALID_ARGUMENT"],
  ["undefined table", serverError("42P01"), "INVALID_ARGUMENT"],
  ["serialization failure", serverError("40001"), "CONFLICT"],
  ["query cancelled", serverError("57014"), "TIMEOUT"],
  ["closed instance", new Error("PGlite is closed"), "CLOSED"],
  ["unserializable parameter", new Error("Invalid input for boolean type"), "INVALID_ARGUMENT"],
  ["anything else", new Error("wasm trap"), "INTERNAL"],
];

describe("mapPgliteError", () => {
  it.each(CASES)("maps %s to %s", (_name, driverError, code) => {
    const mapped = mapPgliteError(driverError, "query");
    expect(mapped.code).toBe(code);
    expect(mapped.cause).toBe(driverError);
    expect(mapped.message).toContain("query failed");
  });

  it("keeps the SQLSTATE and table, never the detail", () => {
    const mapped = mapPgliteError(serverError("23505"), "execute");
    expect(mapped.details).toEqual({ sqlState: "23505", table: "items" });
  });

  it("marks serialization failures retryable", () => {
    expect(mapPgliteError(serverError("40001"), "commit").retryable).toBe(true);
  });

  it("passes a taxonomy error through unchanged", () => {
    const original = new InfrastructureError("CANCELLED", "stopped");
    expect(mapPgliteError(original, "query")).toBe(original);
  });
});
