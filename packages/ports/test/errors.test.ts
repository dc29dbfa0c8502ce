import { describe, expect, it } from "vitest";
import {
  abortable,
  cancelledError,
  closedError,
  ERROR_CODES,
  InfrastructureError,
  isFilterCondition,
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

describe("error helpers, exactly", () => {
  it("closedError is CLOSED, not retryable, and names what was closed", () => {
    const error = closedError("PostgreSQL database");
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.code).toBe("CLOSED");
    expect(error.retryable).toBe(false);
    expect(error.message).toBe("PostgreSQL database is closed");
  });

  it("names its class and leaves cause unset when none is given", () => {
    const error = new InfrastructureError("INTERNAL", "boom");
    expect(error.name).toBe("InfrastructureError");
    expect("cause" in error).toBe(false);
    expect(new UnauthenticatedError("expired", "token expired").name).toBe("UnauthenticatedError");
  });

  it.each([null, undefined, "CLOSED", 42, {}, new Error("plain")])("isInstance is false for %j", (value) => {
    expect(InfrastructureError.isInstance(value)).toBe(false);
    expect(UnauthenticatedError.isInstance(value)).toBe(false);
  });

  it("UnauthenticatedError.isInstance needs the UNAUTHENTICATED code and a reason", () => {
    expect(UnauthenticatedError.isInstance(new InfrastructureError("UNAUTHENTICATED", "no reason"))).toBe(
      false,
    );
    const forged = Object.assign(new InfrastructureError("PERMISSION_DENIED", "denied"), {
      reason: "expired",
    });
    expect(UnauthenticatedError.isInstance(forged)).toBe(false);
    expect(UnauthenticatedError.isInstance(new UnauthenticatedError("expired", "token expired"))).toBe(true);
  });

  it("cancelledError passes a taxonomy reason through, and says cancelled or timed out", () => {
    const reason = new InfrastructureError("UNAVAILABLE", "gone");
    const controller = new AbortController();
    controller.abort(reason);
    expect(cancelledError(controller.signal, "query")).toBe(reason);
    const cancelled = cancelledError(AbortSignal.abort(), "query");
    expect(cancelled).toMatchObject({ code: "CANCELLED", retryable: false, message: "query was cancelled" });
    expect(cancelled.cause).toBeInstanceOf(DOMException);
    const timeout = new DOMException("late", "TimeoutError");
    const timedOut = new AbortController();
    timedOut.abort(timeout);
    expect(cancelledError(timedOut.signal, "query")).toMatchObject({
      code: "TIMEOUT",
      retryable: true,
      message: "query was timed out",
      cause: timeout,
    });
  });

  it("abortable stops listening once the promise settles, and rejects at most once", async () => {
    const controller = new AbortController();
    let listeners = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners += 1;
      add(...args);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners -= 1;
      remove(...args);
    }) as typeof signal.removeEventListener;
    expect(await abortable(Promise.resolve("done"), signal, "read")).toBe("done");
    await expect(abortable(Promise.reject(new Error("failed")), signal, "read")).rejects.toThrow("failed");
    expect(listeners).toBe(0);
    const pending = abortable(new Promise(() => undefined), signal, "read");
    expect(listeners).toBe(1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "CANCELLED" });
  });
});

describe("where conditions", () => {
  it.each(["eq", "ne", "gt", "gte", "lt", "lte"] as const)(
    "where.%s names its operator and keeps the value",
    (op) => {
      const made = where[op](7);
      expect(made).toMatchObject({ op, value: 7 });
      expect(isFilterCondition(made)).toBe(true);
    },
  );

  it.each(["in", "nin"] as const)("where.%s takes an array, and refuses anything else", (op) => {
    expect(where[op]([1, 2])).toMatchObject({ op, value: [1, 2] });
    expect(isFilterCondition(where[op]([]))).toBe(true);
    expect(() => where[op]("x" as never)).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT", message: `where.${op} needs an array` }),
    );
  });

  it.each([null, undefined, 7, "eq", { op: "eq", value: 7 }])(
    "isFilterCondition is false for %j",
    (value) => {
      expect(isFilterCondition(value)).toBe(false);
    },
  );

  it("isValidTenantSlug is false for a value that is not a string", () => {
    expect(isValidTenantSlug(["acme"] as never)).toBe(false);
    expect(isValidTenantSlug({ toString: () => "acme" } as never)).toBe(false);
  });
});
