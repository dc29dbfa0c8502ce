import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { expectErrorCode } from "@proj/contract-tests";
import { InfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { isNoResponders, mapApiError, mapNatsError } from "../src/map-nats-error.js";
import {
  deadSubject,
  deliveredJobId,
  jobId,
  messageIdOfKey,
  nanos,
  parseAckReply,
  parseJobId,
  parseSequence,
  queueNames,
  redriveSubject,
  validateNamespace,
} from "../src/names.js";
import { reconnectDelay } from "../src/nats-link.js";

describe("names", () => {
  it("lays a queue out as two streams and a consumer under its namespace", () => {
    const names = queueNames("acme", "reports");
    expect(names).toEqual({
      queue: "reports",
      jobsStream: "acme_jobs_reports",
      deadStream: "acme_dead_reports",
      consumer: "workers",
      subject: "acme.jobs.reports",
      redriveWildcard: "acme.jobs.reports.*",
      deadWildcard: "acme.dead.reports.*",
      pullSubject: "$JS.API.CONSUMER.MSG.NEXT.acme_jobs_reports.workers",
    });
    expect(redriveSubject(names, 42)).toBe("acme.jobs.reports.42");
    expect(deadSubject(names, 42)).toBe("acme.dead.reports.42");
  });

  it("refuses a namespace that could make two queues share a stream, or no valid subject", async () => {
    for (const bad of ["", "a_b", "has.dot", "-x", "x".repeat(33), "sp ace", "é", undefined, 7]) {
      await expectErrorCode(() => validateNamespace(bad), "INVALID_ARGUMENT");
    }
    for (const good of ["a", "A-1", "x".repeat(32), "0abc"])
      expect(() => validateNamespace(good)).not.toThrow();
  });

  it("reads back the ids it makes, and nothing else", () => {
    expect(parseJobId(jobId("reports", 7))).toEqual({ queue: "reports", sequence: 7 });
    expect(parseJobId(jobId("a_b-c", 9_007_199_254_740_991))).toEqual({
      queue: "a_b-c",
      sequence: 9_007_199_254_740_991,
    });
    for (const bad of [
      "no-such-job",
      "reports.",
      ".7",
      "reports.0",
      "reports.07",
      "reports.-1",
      "reports.1.2",
      "reports.1e3",
      "reports.99999999999999999",
      "-q.1",
      "q q.1",
      "",
      undefined,
      42,
    ]) {
      expect(parseJobId(bad), String(bad)).toBeUndefined();
    }
    expect(parseSequence("12")).toBe(12);
    expect(parseSequence("012")).toBeUndefined();
  });

  it("names a redriven copy's job by its subject, a first message by its sequence", () => {
    const names = queueNames("ns", "q");
    expect(deliveredJobId(names, "ns.jobs.q", 31)).toBe("q.31");
    expect(deliveredJobId(names, "ns.jobs.q.5", 31)).toBe("q.5");
  });

  it("parses the reply subject of a delivery in both formats the server uses", () => {
    expect(parseAckReply("$JS.ACK.stream.workers.3.17.20.1700000000000000000.4")).toEqual({
      deliveryCount: 3,
      streamSequence: 17,
    });
    expect(parseAckReply("$JS.ACK.hub.ACCHASH.stream.workers.2.18.21.1700000000000000000.0.token")).toEqual({
      deliveryCount: 2,
      streamSequence: 18,
    });
    for (const bad of [
      undefined,
      "",
      "_INBOX.x",
      "$JS.ACK.s.c.x.1.1.1.1",
      "$JS.ACK.s.c.0.1.1.1.1",
      "$JS.ACK.s.c.1",
    ]) {
      expect(parseAckReply(bad), String(bad)).toBeUndefined();
    }
  });

  it("turns idempotency keys into short header-safe message ids that keep every key apart", () => {
    const keys = ["a", "A", "a ", "é", "e\u0301", "line\r\nbreak", "x".repeat(256)];
    const ids = keys.map(messageIdOfKey);
    expect(new Set(ids).size).toBe(keys.length);
    for (const id of ids) expect(id).toMatch(/^k:[A-Za-z0-9_-]{43}$/);
    expect(messageIdOfKey("a")).toBe(messageIdOfKey("a"));
  });

  it("writes nanoseconds exactly, past 2^53", () => {
    expect(nanos(1)).toBe("1000000");
    expect(nanos(365 * 24 * 3_600_000)).toBe("31536000000000000");
  });

  it("backs off reconnects from 50-100 ms to 1-2 s, with jitter", () => {
    expect(reconnectDelay(1, () => 0)).toBe(50);
    expect(reconnectDelay(1, () => 0.999_999)).toBe(100);
    expect(reconnectDelay(3, () => 0)).toBe(200);
    expect(reconnectDelay(50, () => 0)).toBe(1_000);
    expect(reconnectDelay(50, () => 0.999_999)).toBe(2_000);
  });
});

describe("error mapping", () => {
  it("classifies JetStream API errors by their err_code, then their status", () => {
    const cases: Array<[number, number, string, string]> = [
      [404, 10059, "stream not found", "NOT_FOUND"],
      [404, 10037, "no message found", "NOT_FOUND"],
      [500, 10057, "no message found", "NOT_FOUND"],
      [500, 10057, "stream store EOF", "NOT_FOUND"],
      [500, 10057, "permission denied on disk", "INTERNAL"],
      [400, 10058, "stream name already in use with a different configuration", "CONFLICT"],
      [503, 10077, "maximum messages exceeded", "RESOURCE_EXHAUSTED"],
      [503, 10077, "maximum bytes exceeded", "RESOURCE_EXHAUSTED"],
      [503, 10077, "something else", "INTERNAL"],
      [400, 10054, "message size exceeds maximum allowed", "RESOURCE_EXHAUSTED"],
      [503, 10008, "JetStream system temporarily unavailable", "UNAVAILABLE"],
      [400, 99999, "bad request", "INVALID_ARGUMENT"],
      [503, 99999, "try later", "UNAVAILABLE"],
      [500, 99999, "oops", "INTERNAL"],
    ];
    for (const [code, errCode, description, expected] of cases) {
      const error = mapApiError({ code, err_code: errCode, description }, "the call");
      expect(error.code, description).toBe(expected);
      expect(error.message).toContain(description);
      expect(error.details).toMatchObject({ natsStatus: code, natsErrCode: errCode });
    }
    expect(
      mapApiError({ code: 503, err_code: 10077, description: "maximum messages exceeded" }, "x").retryable,
    ).toBe(true);
    expect(mapApiError({ code: 400, err_code: 10054, description: "too big" }, "x").retryable).toBe(false);
    const fromClient = mapNatsError(
      new JetStreamApiError({ code: 404, err_code: 10014, description: "consumer not found" }),
      "x",
    );
    expect(fromClient.code).toBe("NOT_FOUND");
  });

  it("classifies the client's errors, keeping the driver error as cause", () => {
    const timeout = new errors.TimeoutError();
    expect(mapNatsError(timeout, "x")).toMatchObject({ code: "TIMEOUT", cause: timeout });
    const noResponders = new errors.RequestError("no responders", {
      cause: new errors.NoRespondersError("subj"),
    });
    const mapped = mapNatsError(noResponders, "x");
    expect(mapped.code).toBe("UNAVAILABLE");
    expect(isNoResponders(mapped)).toBe(true);
    expect(isNoResponders(mapNatsError(new errors.ConnectionError("refused"), "x"))).toBe(false);
    expect(mapNatsError(new errors.ClosedConnectionError(), "x").code).toBe("CLOSED");
    expect(mapNatsError(new errors.AuthorizationError("Authorization Violation"), "x").code).toBe(
      "UNAUTHENTICATED",
    );
    expect(mapNatsError(new errors.PermissionViolationError("denied", "publish", "a.b"), "x").code).toBe(
      "PERMISSION_DENIED",
    );
    expect(
      mapNatsError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "x").code,
    ).toBe("UNAVAILABLE");
    expect(mapNatsError(new Error("??"), "x").code).toBe("INTERNAL");
    expect(mapNatsError("a string", "x").code).toBe("INTERNAL");
    const own = new InfrastructureError("CANCELLED", "stop");
    expect(mapNatsError(own, "x")).toBe(own);
  });
});
