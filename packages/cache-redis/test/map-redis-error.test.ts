import { InfrastructureError } from "@proj/ports";
import { Redis, ReplyError } from "ioredis";
import { describe, expect, it } from "vitest";
import { mapRedisError } from "../src/map-redis-error.js";

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:6379`), { code, errno: -1, syscall: "connect" });
}

/** ioredis' MaxRetriesPerRequestError, identified by its name as ioredis does not export it from the root. */
function maxRetriesError(): Error {
  const error = new Error("Reached the max retries per request limit (which is 1). Refer to …");
  Object.defineProperty(error, "name", { value: "MaxRetriesPerRequestError" });
  return error;
}

describe("mapRedisError", () => {
  it.each([
    ["connection refused", socketError("ECONNREFUSED"), "UNAVAILABLE"],
    ["connection reset", socketError("ECONNRESET"), "UNAVAILABLE"],
    ["unknown host", socketError("ENOTFOUND"), "UNAVAILABLE"],
    ["connect timeout", socketError("ETIMEDOUT"), "TIMEOUT"],
    ["max retries per request", maxRetriesError(), "UNAVAILABLE"],
    ["command timeout", new Error("Command timed out"), "TIMEOUT"],
    [
      "silent connection destroyed by socketTimeout",
      new Error("Socket timeout. Expecting data, but didn't receive any in 2000ms."),
      "TIMEOUT",
    ],
    ["closed connection", new Error("Connection is closed."), "UNAVAILABLE"],
    [
      "offline queue disabled",
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      "UNAVAILABLE",
    ],
    ["NOAUTH", new ReplyError("NOAUTH Authentication required."), "UNAUTHENTICATED"],
    ["WRONGPASS", new ReplyError("WRONGPASS invalid username-password pair"), "UNAUTHENTICATED"],
    [
      "NOPERM",
      new ReplyError("NOPERM this user has no permissions to run the 'get' command"),
      "PERMISSION_DENIED",
    ],
    ["OOM", new ReplyError("OOM command not allowed when used memory > 'maxmemory'."), "RESOURCE_EXHAUSTED"],
    ["LOADING", new ReplyError("LOADING Redis is loading the dataset in memory"), "UNAVAILABLE"],
    [
      "READONLY replica",
      new ReplyError("READONLY You can't write against a read only replica."),
      "UNAVAILABLE",
    ],
    ["BUSY script", new ReplyError("BUSY Redis is busy running a script."), "UNAVAILABLE"],
    [
      "WRONGTYPE",
      new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"),
      "INTERNAL",
    ],
    ["an unknown error", new Error("something else"), "INTERNAL"],
    ["a thrown non-error", "oops", "INTERNAL"],
  ])("classifies %s as %s, keeping the driver error as cause", (_label, error, code) => {
    const mapped = mapRedisError(error, 'GET of cache key "tenant:1"');
    expect(mapped.code).toBe(code);
    expect(mapped.cause).toBe(error);
    expect(mapped.message).toContain('GET of cache key "tenant:1"');
  });

  it("marks UNAVAILABLE and TIMEOUT retryable, and an authentication failure not", () => {
    expect(mapRedisError(socketError("ECONNREFUSED"), "GET").retryable).toBe(true);
    expect(mapRedisError(new Error("Command timed out"), "GET").retryable).toBe(true);
    expect(mapRedisError(new ReplyError("WRONGPASS invalid"), "GET").retryable).toBe(false);
  });

  it("never echoes a connection URL from the driver message", () => {
    const error = Object.assign(new Error("connect ECONNREFUSED redis://user:s3cret@10.0.0.1:6379"), {
      code: "ECONNREFUSED",
    });
    expect(mapRedisError(error, "GET").message).not.toContain("s3cret");
  });

  it("passes a taxonomy error through unchanged", () => {
    const error = new InfrastructureError("CLOSED", "closed");
    expect(mapRedisError(error, "GET")).toBe(error);
  });

  it("classifies the error a real refused connection produces", async () => {
    const client = new Redis("redis://127.0.0.1:1", { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    const caught = await client.get("k").catch((error: unknown) => error);
    client.disconnect();
    expect(mapRedisError(caught, "GET").code).toBe("UNAVAILABLE");
  });
});
