import { describe, expect, it } from "vitest";
import { isWorthRetrying, type RequestOutcome, requestOutcome } from "../src/request-outcome.js";

const answered = (status: number, name = "S3ServiceException") =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const socket = (code: string, name = "Error") => Object.assign(new Error(code), { name, code });

const CASES: ReadonlyArray<[string, unknown, RequestOutcome, boolean]> = [
  ["a refused connection", socket("ECONNREFUSED"), "not-sent", true],
  ["an unknown host", socket("ENOTFOUND"), "not-sent", true],
  [
    "a refused connection wrapped by the SDK",
    Object.assign(new Error("x"), { cause: socket("ECONNREFUSED") }),
    "not-sent",
    true,
  ],
  ["a 404 answer", answered(404, "NoSuchUpload"), "refused", false],
  ["a 412 answer", answered(412, "PreconditionFailed"), "refused", false],
  ["a 500 answer", answered(500, "InternalError"), "refused", false],
  ["a 503 answer (throttled)", answered(503, "SlowDown"), "refused", true],
  ["a 429 answer", answered(429), "refused", true],
  ["a 502 from a gateway", answered(502), "unknown", false],
  ["a 504 from a gateway", answered(504), "unknown", false],
  ["a reset connection", socket("ECONNRESET", "TimeoutError"), "unknown", false],
  ["a broken pipe", socket("EPIPE"), "unknown", false],
  [
    "an idle timeout",
    Object.assign(new Error("socket timed out"), { name: "TimeoutError" }),
    "unknown",
    false,
  ],
  ["an abort", Object.assign(new Error("aborted"), { name: "AbortError" }), "unknown", false],
  ["something that is not an error", "boom", "unknown", false],
];

describe("requestOutcome", () => {
  for (const [label, error, outcome, worthRetrying] of CASES) {
    it(`classifies ${label} as ${outcome}${worthRetrying ? ", worth sending again" : ""}`, () => {
      expect(requestOutcome(error)).toBe(outcome);
      expect(isWorthRetrying(error)).toBe(worthRetrying);
    });
  }
});
