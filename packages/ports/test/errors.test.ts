import { describe, expect, it } from "vitest";
import {
  cancelledError,
  ERROR_CODES,
  InfrastructureError,
  isInfrastructureError,
  isOutcomeUnknown,
  isValidTenantSlug,
  outcomeUnknownError,
  throwIfAborted,
  UnauthenticatedError,
  where,
} from "../src/index.js";

describe("InfrastructureError", () => {
  it("keeps code, cause and details, and defaults retryable from the code", () => {
    const cause = new Error("ECONNREFUSED");
    const error = new InfrastructureError("UNAVAILABLE", "database at 127.0.0.1:5432 refused", {
      cause,
      details: { port: 5432 },
    });
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.cause).toBe(cause);
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ port: 5432 });
    expect(new InfrastructureError("NOT_FOUND", "x").retryable).toBe(false);
  });

  it("is recognised by marker, even from another copy of the package", () => {
    const foreign = Object.assign(new Error("x"), {
      [Symbol.for("@proj/ports.InfrastructureError")]: true,
      code: "CONFLICT",
    });
    expect(InfrastructureError.isInstance(foreign)).toBe(true);
    expect(isInfrastructureError(new Error("plain"))).toBe(false);
    expect(isInfrastructureError(new InfrastructureError("CONFLICT", "x"), "CONFLICT")).toBe(true);
    expect(isInfrastructureError(new InfrastructureError("CONFLICT", "x"), "NOT_FOUND")).toBe(false);
  });

  it("lists every code once", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it("gives UnauthenticatedError a reason and never a retry", () => {
    const error = new UnauthenticatedError("expired", "token expired");
    expect(error.code).toBe("UNAUTHENTICATED");
    expect(error.reason).toBe("expired");
    expect(error.details.reason).toBe("expired");
    expect(error.retryable).toBe(false);
    expect(error).toBeInstanceOf(InfrastructureError);
  });
});

describe("cancellation helpers", () => {
  it("maps an aborted signal to CANCELLED and a timeout signal to TIMEOUT", async () => {
    const controller = new AbortController();
    controller.abort();
    expect(cancelledError(controller.signal, "query").code).toBe("CANCELLED");
    const timeout = AbortSignal.timeout(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cancelledError(timeout, "query").code).toBe("TIMEOUT");
    expect(() => throwIfAborted(controller.signal, "put")).toThrowError(
      expect.objectContaining({ code: "CANCELLED" }),
    );
    expect(() => throwIfAborted(undefined, "put")).not.toThrow();
  });
});

describe("tenant slugs", () => {
  it.each(["acme", "a1b", "acme-corp", "x".repeat(63)])("accepts %s", (slug) =>
    expect(isValidTenantSlug(slug)).toBe(true),
  );
  it.each(["", "ab", "-acme", "acme-", "Acme", "ac me", "a--b", "x".repeat(64), "acme_corp"])(
    "rejects %j",
    (slug) => expect(isValidTenantSlug(slug)).toBe(false),
  );
});

describe("filter conditions", () => {
  it("rejects in/nin without an array", () => {
    expect(() => where.in("x" as never)).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

describe("UnauthenticatedError.isInstance", () => {
  it("recognises only UNAUTHENTICATED errors that carry a reason", () => {
    expect(UnauthenticatedError.isInstance(new UnauthenticatedError("expired", "x"))).toBe(true);
    expect(
      UnauthenticatedError.isInstance(
        new InfrastructureError("UNAUTHENTICATED", "database password rejected"),
      ),
    ).toBe(false);
    expect(UnauthenticatedError.isInstance(new InfrastructureError("NOT_FOUND", "x"))).toBe(false);
  });
});

describe("outcomeUnknownError", () => {
  it("marks the outcome unknown and is never retryable, whatever the code", () => {
    for (const code of ["TIMEOUT", "UNAVAILABLE", "CANCELLED"] as const) {
      const error = outcomeUnknownError(code, "COMMIT reply lost", { details: { sqlState: "08006" } });
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(false);
      expect(error.details).toEqual({ sqlState: "08006", outcome: "unknown" });
      expect(isOutcomeUnknown(error)).toBe(true);
    }
  });

  it("is false for errors whose outcome is known and for foreign values", () => {
    expect(isOutcomeUnknown(new InfrastructureError("TIMEOUT", "pool wait"))).toBe(false);
    expect(isOutcomeUnknown(new Error("x"))).toBe(false);
    expect(isOutcomeUnknown({ details: { outcome: "unknown" } })).toBe(false);
  });
});
