import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
} from "mongodb";
import { describe, expect, it } from "vitest";
import { mapMongoError, requestMayHaveRun } from "../src/map-mongodb-error.js";

/** A Node socket error as the kernel reports it. */
function socketError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

const cases: { name: string; error: unknown; mayHaveRun: boolean }[] = [
  {
    name: "no server selected",
    error: new MongoServerSelectionError("none", {} as never),
    mayHaveRun: false,
  },
  {
    name: "pool cleared before checkout (matched by name, as the class is not exported)",
    error: Object.assign(new Error("pool cleared"), { name: "MongoPoolClearedError" }),
    mayHaveRun: false,
  },
  {
    name: "connect refused (wrapped by the driver)",
    error: new MongoNetworkError("connect ECONNREFUSED", { cause: socketError("ECONNREFUSED", "connect") }),
    mayHaveRun: false,
  },
  {
    name: "network error before the handshake",
    error: new MongoNetworkError("closed", { beforeHandshake: true }),
    mayHaveRun: false,
  },
  {
    name: "write on a reset socket (unwrapped)",
    error: socketError("ECONNRESET", "write"),
    mayHaveRun: false,
  },
  {
    name: "the server answered with an error",
    error: new MongoServerError({ ok: 0, code: 11000 }),
    mayHaveRun: false,
  },
  {
    name: "connection closed while waiting for the answer",
    error: new MongoNetworkError("socket closed"),
    mayHaveRun: true,
  },
  {
    name: "socket timeout while waiting for the answer",
    error: new MongoNetworkTimeoutError("timed out"),
    mayHaveRun: true,
  },
  { name: "read reset", error: socketError("ECONNRESET", "read"), mayHaveRun: true },
  { name: "something unknown", error: "boom", mayHaveRun: true },
];

describe("whether a failed request may have run on the server", () => {
  for (const { name, error, mayHaveRun } of cases) {
    it(`${name}: ${mayHaveRun ? "may have run" : "never ran"}`, () => {
      expect(requestMayHaveRun(error)).toBe(mayHaveRun);
    });
  }
});

describe("socket errors the driver lets out unwrapped", () => {
  for (const code of ["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"]) {
    it(`maps ${code} to a retryable UNAVAILABLE`, () => {
      const mapped = mapMongoError(socketError(code, "write"), "count on collection items");
      expect(mapped.code).toBe("UNAVAILABLE");
      expect(mapped.retryable).toBe(true);
    });
  }
});
