import { InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { mapS3Error } from "../src/index.js";

/** What the SDK throws for a service error: a named exception carrying the HTTP status. */
function serviceError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

function systemError(code: string, name = "Error"): Error {
  return Object.assign(new Error(code), { code, name });
}

const cases: [label: string, error: unknown, code: string, retryable: boolean][] = [
  ["NoSuchKey", serviceError("NoSuchKey", 404), "NOT_FOUND", false],
  ["HEAD 404 (NotFound)", serviceError("NotFound", 404), "NOT_FOUND", false],
  ["NoSuchBucket", serviceError("NoSuchBucket", 404), "NOT_FOUND", false],
  ["bare 404", serviceError("Unknown", 404), "NOT_FOUND", false],
  ["AccessDenied", serviceError("AccessDenied", 403), "PERMISSION_DENIED", false],
  ["HEAD 403 without a body", serviceError("Forbidden", 403), "PERMISSION_DENIED", false],
  ["InvalidAccessKeyId", serviceError("InvalidAccessKeyId", 403), "UNAUTHENTICATED", false],
  ["SignatureDoesNotMatch", serviceError("SignatureDoesNotMatch", 403), "UNAUTHENTICATED", false],
  ["SlowDown", serviceError("SlowDown", 503), "UNAVAILABLE", true],
  ["bare 503", serviceError("Unknown", 503), "UNAVAILABLE", true],
  ["429 Too Many Requests", serviceError("TooManyRequests", 429), "UNAVAILABLE", true],
  ["InternalError 500", serviceError("InternalError", 500), "UNAVAILABLE", true],
  ["PreconditionFailed", serviceError("PreconditionFailed", 412), "CONFLICT", false],
  ["bare 412", serviceError("Unknown", 412), "CONFLICT", false],
  ["InvalidArgument", serviceError("InvalidArgument", 400), "INVALID_ARGUMENT", false],
  ["InvalidRange 416", serviceError("InvalidRange", 416), "INVALID_ARGUMENT", false],
  ["EntityTooLarge", serviceError("EntityTooLarge", 400), "RESOURCE_EXHAUSTED", false],
  ["socket idle timeout", Object.assign(new Error("timed out"), { name: "TimeoutError" }), "TIMEOUT", true],
  ["RequestTimeout", serviceError("RequestTimeout", 400), "TIMEOUT", true],
  ["ETIMEDOUT", systemError("ETIMEDOUT", "TimeoutError"), "TIMEOUT", true],
  ["ECONNREFUSED", systemError("ECONNREFUSED"), "UNAVAILABLE", true],
  [
    "ECONNRESET renamed TimeoutError by the SDK",
    systemError("ECONNRESET", "TimeoutError"),
    "UNAVAILABLE",
    true,
  ],
  ["EPIPE", systemError("EPIPE", "TimeoutError"), "UNAVAILABLE", true],
  ["AbortError", Object.assign(new Error("aborted"), { name: "AbortError" }), "CANCELLED", false],
  [
    "socket error wrapped as cause",
    new Error("wrapped", { cause: systemError("ECONNREFUSED") }),
    "UNAVAILABLE",
    true,
  ],
  [
    "a DeleteObjects per-key failure",
    { name: "AccessDenied", message: "denied" },
    "PERMISSION_DENIED",
    false,
  ],
  ["an unclassifiable error", new Error("something odd"), "INTERNAL", false],
];

describe("mapS3Error", () => {
  it.each(cases)("maps %s to the taxonomy", (_, error, code, retryable) => {
    const mapped = mapS3Error(error, 'get of "k"');
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.cause).toBe(error);
    expect(mapped.message).toContain('get of "k"');
  });

  it("returns the signal's CANCELLED or TIMEOUT once the signal fired, whatever the SDK threw", () => {
    const controller = new AbortController();
    controller.abort();
    expect(mapS3Error(serviceError("Unknown", 500), "put", controller.signal).code).toBe("CANCELLED");
    const timedOut = AbortSignal.abort(new DOMException("deadline", "TimeoutError"));
    expect(mapS3Error(new Error("aborted"), "put", timedOut).code).toBe("TIMEOUT");
  });

  it("passes taxonomy errors through unchanged", () => {
    const original = new InfrastructureError("INVALID_ARGUMENT", "bad key");
    expect(mapS3Error(original, "put")).toBe(original);
  });

  it("records the S3 error name and HTTP status as details, never the credentials", () => {
    const mapped = mapS3Error(serviceError("AccessDenied", 403), 'head of "k"');
    expect(mapped.details).toEqual({ s3Error: "AccessDenied", httpStatus: 403 });
  });
});
