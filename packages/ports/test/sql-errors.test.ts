import { describe, expect, it } from "vitest";
import { classifySqlState } from "../src/index.js";

describe("classifySqlState", () => {
  it.each([
    ["23505", "CONFLICT", false],
    ["23502", "INVALID_ARGUMENT", false],
    ["40001", "CONFLICT", true],
    ["40P01", "CONFLICT", true],
    ["40003", "UNAVAILABLE", false],
    ["57014", "TIMEOUT", true],
    ["08006", "UNAVAILABLE", true],
    ["42601", "INVALID_ARGUMENT", false],
    ["42501", "PERMISSION_DENIED", false],
    ["53300", "RESOURCE_EXHAUSTED", true],
    ["XX000", "INTERNAL", false],
  ])("classifies %s as %s (retryable %s)", (sqlState, code, retryable) => {
    expect(classifySqlState(sqlState)).toEqual({ code, retryable });
  });
});

describe("classifySqlState, case", () => {
  it("reads a lower-case SQLSTATE like its upper-case form", () => {
    expect(classifySqlState("40p01")).toEqual({ code: "CONFLICT", retryable: true });
    expect(classifySqlState("55p03")).toEqual({ code: "CONFLICT", retryable: true });
    expect(classifySqlState("0a000")).toEqual({ code: "NOT_SUPPORTED", retryable: false });
  });
});
