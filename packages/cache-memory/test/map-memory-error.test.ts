import { InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { mapMemoryError } from "../src/map-memory-error.js";

function cloneError(): unknown {
  try {
    structuredClone({ run: () => 1 });
  } catch (error) {
    return error;
  }
  throw new Error("structuredClone accepted a function");
}

describe("mapMemoryError", () => {
  const passedThrough = new InfrastructureError("INVALID_ARGUMENT", "already classified");

  it.each([
    ["a DataCloneError from structuredClone", cloneError(), "INVALID_ARGUMENT"],
    ["a TypeError from sizeOf", new TypeError("cannot read size"), "INVALID_ARGUMENT"],
    ["a RangeError from sizeOf", new RangeError("too deep"), "INVALID_ARGUMENT"],
    ["any other error", new Error("bug"), "INTERNAL"],
    ["a thrown non-error", "oops", "INTERNAL"],
  ])("classifies %s as %s with the error as cause", (_label, error, code) => {
    const mapped = mapMemoryError(error, 'cloning the value of cache key "k"');
    expect(mapped.code).toBe(code);
    expect(mapped.cause).toBe(error);
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toContain('cache key "k"');
  });

  it("passes a taxonomy error through unchanged", () => {
    expect(mapMemoryError(passedThrough, "anything")).toBe(passedThrough);
  });
});
