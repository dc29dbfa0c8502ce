import { describe, expect, it } from "vitest";
import {
  checkJobPayload,
  DEFAULT_MAX_ATTEMPTS,
  encodeJobPayload,
  InfrastructureError,
  isFinalJobError,
  retryDelayMs,
  summarizeJobError,
  validateDeadLetterPageSize,
  validateEnqueueOptions,
  validateJobCallOptions,
  validateQueueName,
  validateWorkOptions,
} from "../src/index.js";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return InfrastructureError.isInstance(error) ? error.code : "not a taxonomy error";
  }
  return undefined;
}

describe("validateQueueName", () => {
  it.each(["a", "reports", "Q_1-x", "9", "a".repeat(64)])("accepts %j", (name) => {
    expect(codeOf(() => validateQueueName(name))).toBeUndefined();
  });
  it.each(["", "-a", "_a", "a.b", "a b", "a*", "a>", "a/b", "é", "a".repeat(65), 7, null])(
    "refuses %j",
    (name) => {
      expect(codeOf(() => validateQueueName(name))).toBe("INVALID_ARGUMENT");
    },
  );
});

describe("encodeJobPayload", () => {
  it("returns the JSON text of JSON values", () => {
    expect(encodeJobPayload({ a: [1, "x", null, true, { b: -0.5 }] })).toBe(
      '{"a":[1,"x",null,true,{"b":-0.5}]}',
    );
    expect(encodeJobPayload(null)).toBe("null");
    expect(encodeJobPayload("é😀")).toBe('"é😀"');
  });
  it.each([
    ["undefined", undefined],
    ["a nested undefined", { a: undefined }],
    ["NaN", Number.NaN],
    ["Infinity", [Number.POSITIVE_INFINITY]],
    ["a bigint", 1n],
    ["a function", { f: () => 1 }],
    ["a symbol", Symbol("s")],
    ["a Date", new Date(0)],
    ["a Map", new Map()],
    ["a lone surrogate", "a\ud800"],
    ["a key with a lone surrogate", { "\udc00": 1 }],
  ])("refuses %s", (_, value) => {
    expect(codeOf(() => encodeJobPayload(value))).toBe("INVALID_ARGUMENT");
  });
  it("names where the offending value is", () => {
    const messageOf = (value: unknown) => {
      try {
        encodeJobPayload(value);
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(messageOf({ a: [1, { b: Number.NaN }] })).toBe("job payload $.a[1].b is NaN, not a JSON number");
    expect(messageOf([[0, [undefined]]])).toBe("job payload $[0][1][0] is undefined, not a JSON value");
    expect(messageOf({ ok: "x", bad: "\ud800" })).toBe(
      "job payload $.bad holds a lone surrogate (not valid Unicode)",
    );
    const cycle: Record<string, unknown> = { list: [] };
    (cycle.list as unknown[]).push(cycle);
    expect(messageOf(cycle)).toBe("job payload $.list[0] is a cycle");
    expect(messageOf(new Date(0))).toBe("job payload $ is a Date, not a plain object");
  });
  it("refuses a cycle but accepts a shared (acyclic) reference", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(codeOf(() => encodeJobPayload(cycle))).toBe("INVALID_ARGUMENT");
    const shared = { x: 1 };
    expect(encodeJobPayload([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });
  it("refuses a payload over the limit with a non-retryable RESOURCE_EXHAUSTED, counting UTF-8 bytes", () => {
    expect(encodeJobPayload("x".repeat(8), 10)).toBe(`"${"x".repeat(8)}"`);
    let error: unknown;
    try {
      encodeJobPayload("é".repeat(5), 11); // 12 bytes of JSON
    } catch (caught) {
      error = caught;
    }
    expect(InfrastructureError.isInstance(error) && error.code).toBe("RESOURCE_EXHAUSTED");
    expect((error as InfrastructureError).retryable).toBe(false);
    expect(encodeJobPayload("é".repeat(5), 12)).toHaveLength(7);
  });
});

describe("checkJobPayload", () => {
  const utf8Bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");
  /** Payloads whose JSON text is as long as it can be for their size: escapes, 3- and 4-byte characters, long numbers. */
  const payloads: unknown[] = [
    "\u0001".repeat(40),
    { '\u001f"\\': ["\n".repeat(9), -1.7976931348623157e308, -2.2250738585072014e-308] },
    ["é", "€".repeat(20), "😀".repeat(10), 5e-324, -0, true, false, null],
    { a: { b: { c: [[], {}, [null]] } } },
    "x",
    -2.2250738585072014e-308,
    0,
  ];
  it.each(payloads.map((payload) => [JSON.stringify(payload).slice(0, 40), payload]))(
    "accepts %s at exactly its UTF-8 size and refuses it one byte under, as encodeJobPayload does",
    (_, payload) => {
      const bytes = utf8Bytes(payload);
      expect(codeOf(() => checkJobPayload(payload, bytes))).toBeUndefined();
      expect(codeOf(() => checkJobPayload(payload, bytes - 1))).toBe("RESOURCE_EXHAUSTED");
      expect(codeOf(() => encodeJobPayload(payload, bytes))).toBeUndefined();
      expect(codeOf(() => encodeJobPayload(payload, bytes - 1))).toBe("RESOURCE_EXHAUSTED");
    },
  );
  it("refuses what encodeJobPayload refuses, with the same message", () => {
    const messageOf = (check: (value: unknown) => unknown, value: unknown) => {
      try {
        check(value);
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    const cycle: Record<string, unknown> = { list: [] };
    (cycle.list as unknown[]).push(cycle);
    for (const value of [
      { a: [1, { b: Number.NaN }] },
      [[0, [undefined]]],
      { ok: "x", bad: "\ud800" },
      cycle,
      new Date(0),
    ]) {
      const message = messageOf(checkJobPayload, value);
      expect(message).toMatch(/^job payload \$/);
      expect(message).toBe(messageOf(encodeJobPayload, value));
    }
  });
  it("checks payloads nested deeper than its quick walk goes: a deep cycle is named where it closes, deep data is sized", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 200; i++) deep = { d: [deep] };
    expect(codeOf(() => checkJobPayload(deep, utf8Bytes(deep)))).toBeUndefined();
    expect(codeOf(() => checkJobPayload(deep, utf8Bytes(deep) - 1))).toBe("RESOURCE_EXHAUSTED");
    const ring: Record<string, unknown> = {};
    let node = ring;
    for (let i = 0; i < 100; i++) {
      const next: Record<string, unknown> = {};
      node.n = next;
      node = next;
    }
    node.n = ring;
    let message = "";
    try {
      checkJobPayload({ head: ring });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(`job payload $.head${".n".repeat(101)} is a cycle`);
  });
});

describe("validateEnqueueOptions", () => {
  it("applies defaults", () => {
    expect(validateEnqueueOptions({})).toEqual({
      idempotencyKey: undefined,
      delayMs: 0,
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
    });
  });
  it.each([
    [{ idempotencyKey: "" }],
    [{ idempotencyKey: "k\ud800" }],
    [{ idempotencyKey: "é".repeat(129) }],
    [{ delayMs: -1 }],
    [{ delayMs: 1.5 }],
    [{ maxAttempts: 0 }],
    [{ maxAttempts: 1001 }],
    [{ maxAttempts: Number.NaN }],
  ])("refuses %j", (options) => {
    expect(codeOf(() => validateEnqueueOptions(options as never))).toBe("INVALID_ARGUMENT");
  });
  it("accepts a 256-byte key", () => {
    expect(validateEnqueueOptions({ idempotencyKey: "é".repeat(128) }).idempotencyKey).toHaveLength(128);
  });
});

describe("validateWorkOptions", () => {
  it("applies defaults", () => {
    expect(validateWorkOptions({})).toMatchObject({
      concurrency: 1,
      leaseMs: 30_000,
      backoff: { initialMs: 1000 },
    });
    expect(validateWorkOptions({ backoff: { initialMs: 400_000 } }).backoff.maxMs).toBe(400_000);
  });
  it.each([
    [{ concurrency: 0 }],
    [{ concurrency: 2.5 }],
    [{ leaseMs: 999 }],
    [{ backoff: { initialMs: 0 } }],
    [{ backoff: { initialMs: 10, maxMs: 5 } }],
  ])("refuses %j", (options) => {
    expect(codeOf(() => validateWorkOptions(options as never))).toBe("INVALID_ARGUMENT");
  });
});

describe("call options and page sizes", () => {
  it("checks timeoutMs and the signal", () => {
    expect(validateJobCallOptions({}, 5000, "enqueue")).toBe(5000);
    expect(validateJobCallOptions({ timeoutMs: Number.POSITIVE_INFINITY }, 5000, "enqueue")).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(codeOf(() => validateJobCallOptions({ timeoutMs: 0 }, 5000, "enqueue"))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => validateJobCallOptions({ signal: AbortSignal.abort() }, 5000, "enqueue"))).toBe(
      "CANCELLED",
    );
    expect(validateDeadLetterPageSize({})).toBe(100);
    expect(codeOf(() => validateDeadLetterPageSize({ limit: 1001 }))).toBe("INVALID_ARGUMENT");
  });
});

describe("retryDelayMs", () => {
  const backoff = { initialMs: 100, maxMs: 1000 };
  it("is fully jittered below an exponential ceiling capped at maxMs", () => {
    expect(retryDelayMs(1, backoff, () => 0.999999)).toBe(99);
    expect(retryDelayMs(2, backoff, () => 0.999999)).toBe(199);
    expect(retryDelayMs(4, backoff, () => 0.999999)).toBe(799);
    expect(retryDelayMs(5, backoff, () => 0.999999)).toBe(999);
    expect(retryDelayMs(500, backoff, () => 0.999999)).toBe(999);
    expect(retryDelayMs(3, backoff, () => 0)).toBe(1);
    expect(retryDelayMs(3, backoff, () => 0.5)).toBe(200);
  });
});

describe("handler errors", () => {
  it("ends the job at once only for a non-retryable error", () => {
    expect(isFinalJobError(new InfrastructureError("INVALID_ARGUMENT", "x"))).toBe(true);
    expect(isFinalJobError(new InfrastructureError("UNAVAILABLE", "x"))).toBe(false);
    expect(isFinalJobError(Object.assign(new Error("x"), { retryable: false }))).toBe(true);
    expect(isFinalJobError(new Error("x"))).toBe(false);
    expect(isFinalJobError("boom")).toBe(false);
  });
  it("summarises errors with their taxonomy code", () => {
    expect(summarizeJobError(new InfrastructureError("CONFLICT", "taken"))).toEqual({
      code: "CONFLICT",
      message: "taken",
    });
    expect(summarizeJobError(new Error("x".repeat(2000))).message).toHaveLength(1000);
    expect(summarizeJobError("plain")).toEqual({ code: "INTERNAL", message: "plain" });
  });
});
