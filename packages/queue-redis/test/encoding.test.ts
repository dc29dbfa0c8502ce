import { isOutcomeUnknown } from "@proj/ports";
import { describe, expect, it } from "vitest";
import {
  decodeCursor,
  decodeFailure,
  decodeJobId,
  encodeCursor,
  encodeFailure,
  encodeJobId,
  jobIdOfDedupValue,
} from "../src/encoding.js";
import { reconnectDelay } from "../src/redis-calls.js";
import { lostReply, mapRedisError, mayHaveRun } from "../src/redis-errors.js";

describe("job ids, cursors and failure records", () => {
  it("round-trips a job id and refuses what it never made", () => {
    const id = encodeJobId("reports_1", "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    expect(decodeJobId(id)).toEqual({ queue: "reports_1", bullId: "1b4e28ba-2fa1-11d2-883f-0016d3cca427" });
    for (const bad of ["", "x", ":x", "q:", "-q:x", "q:a:b", `${"q".repeat(65)}:x`, "q:a b"]) {
      expect(decodeJobId(bad), bad).toBeUndefined();
    }
  });

  it("strips the cancel mark from a deduplication value", () => {
    expect(jobIdOfDedupValue("abc")).toBe("abc");
    expect(jobIdOfDedupValue("abc~c")).toBe("abc");
  });

  it("round-trips a cursor and refuses a forged one", () => {
    const cursor = { failedAt: 1_700_000_000_123, bullId: "abc-1" };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const bad of [
      "",
      42,
      "x".repeat(401),
      Buffer.from("abc").toString("base64url"),
      Buffer.from("-1:abc").toString("base64url"),
      Buffer.from("1.5:abc").toString("base64url"),
      Buffer.from("12:").toString("base64url"),
    ]) {
      expect(() => decodeCursor(bad), String(bad)).toThrow(/nextCursor/);
    }
  });

  it("reads back its own failure records, and BullMQ's plain reasons as INTERNAL", () => {
    const record = { code: "CONFLICT", message: "already there", attempts: 2 };
    expect(decodeFailure(encodeFailure(record))).toEqual(record);
    expect(decodeFailure("job stalled more than allowable limit")).toEqual({
      code: "INTERNAL",
      message: "job stalled more than allowable limit",
    });
    expect(decodeFailure("{not json")).toEqual({ code: "INTERNAL", message: "{not json" });
    expect(decodeFailure('{"code":1}')).toEqual({ code: "INTERNAL", message: '{"code":1}' });
    expect(decodeFailure(undefined)).toEqual({ code: "INTERNAL", message: "" });
  });
});

describe("Redis errors", () => {
  const named = (name: string, message: string, code?: string) =>
    Object.assign(new Error(message), { name }, code === undefined ? {} : { code });

  it("maps ioredis and socket errors onto the taxonomy, with the cause", () => {
    const cases: Array<[Error, string]> = [
      [named("Error", "connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED"), "UNAVAILABLE"],
      [named("Error", "read ECONNRESET", "ECONNRESET"), "UNAVAILABLE"],
      [named("Error", "connect ETIMEDOUT", "ETIMEDOUT"), "TIMEOUT"],
      [named("Error", "Socket timeout. Expecting data, but didn't receive any in 1000ms."), "TIMEOUT"],
      [named("MaxRetriesPerRequestError", "Reached the max retries per request limit"), "UNAVAILABLE"],
      [named("Error", "Stream isn't writeable and enableOfflineQueue options is false"), "UNAVAILABLE"],
      [named("Error", "Connection is closed."), "UNAVAILABLE"],
      [named("ReplyError", "NOAUTH Authentication required."), "UNAUTHENTICATED"],
      [named("ReplyError", "OOM command not allowed"), "RESOURCE_EXHAUSTED"],
      [named("ReplyError", "ERR something"), "INTERNAL"],
      [named("Error", "anything else"), "INTERNAL"],
    ];
    for (const [error, code] of cases) {
      const mapped = mapRedisError(error, "enqueue");
      expect(mapped.code, error.message).toBe(code);
      expect(mapped.cause).toBe(error);
    }
    expect(mapRedisError("thrown string", "x").code).toBe("INTERNAL");
  });

  it("says a write may have run unless Redis refused it or it never left", () => {
    expect(mayHaveRun(named("ReplyError", "ERR x"))).toBe(false);
    expect(mayHaveRun(named("Error", "Stream isn't writeable and enableOfflineQueue options is false"))).toBe(
      false,
    );
    expect(mayHaveRun(named("MaxRetriesPerRequestError", "lost"))).toBe(true);
    expect(mayHaveRun("odd")).toBe(true);
    const unknown = lostReply(mapRedisError(named("Error", "Connection is closed."), "enqueue"));
    expect(isOutcomeUnknown(unknown)).toBe(true);
    expect(unknown.retryable).toBe(false);
    expect(unknown.code).toBe("UNAVAILABLE");
  });

  it("backs reconnects off from 50-100 ms to 1-2 s", () => {
    expect(reconnectDelay(1, () => 0)).toBe(50);
    expect(reconnectDelay(1, () => 0.999)).toBeLessThanOrEqual(100);
    expect(reconnectDelay(30, () => 0)).toBe(1_000);
    expect(reconnectDelay(30, () => 0.999)).toBeLessThanOrEqual(2_000);
  });
});
