import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { createMemoryJobQueue } from "@proj/adapter-memory";
import { createMemoryCache } from "@proj/cache-memory";
import { expectErrorCode } from "@proj/contract-tests";
import { InfrastructureError, type JobDelivery, type JobQueue, type JsonValue } from "@proj/ports";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ENVELOPE_RESERVE_BYTES,
  instrumentCache,
  instrumentJobQueue,
  TRACE_CONTEXT_KEY,
} from "../src/index.js";
import { exportedText, isChildOf, TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
const SECRET = "job-secret-51d0e";
const WORK = { leaseMs: 1_000, backoff: { initialMs: 20, maxMs: 50 } };

let inner: JobQueue;
let jobs: JobQueue;
beforeEach(() => {
  telemetry.reset();
  inner = createMemoryJobQueue();
  jobs = instrumentJobQueue(inner, telemetry.options);
});
afterEach(() => inner.close());
afterAll(() => telemetry.shutdown());

/** Waits until `count` deliveries were handled (or failed); returns them. */
function collect(queue: JobQueue, name: string, count: number, handle?: (job: JobDelivery) => Promise<void>) {
  const seen: JobDelivery[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const worker = queue.work(
    name,
    async (job) => {
      seen.push(job);
      try {
        await handle?.(job);
      } finally {
        if (seen.length === count) setTimeout(done, 20);
      }
    },
    WORK,
  );
  return { seen, finished: finished.then(() => worker.close()) };
}

describe("instrumentJobQueue", () => {
  it("carries the trace from the enqueuing request to the handler, whose calls nest under its span", async () => {
    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 10 }), telemetry.options);
    const payload = { invoice: 42, lines: [{ sku: "a", qty: 2 }], note: null };
    const { seen, finished } = collect(jobs, "invoices", 1, async () => {
      await cache.get("template");
    });
    let id = "";
    await telemetry.tracer.startActiveSpan("POST /invoices", async (request) => {
      ({ id } = await jobs.enqueue("invoices", payload));
      request.end();
    });
    await finished;

    expect(seen[0]?.payload).toEqual(payload);
    const request = telemetry.one("POST /invoices");
    const send = telemetry.one("send invoices");
    const process = telemetry.one("process invoices");
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(isChildOf(send, request)).toBe(true);
    expect(isChildOf(process, send)).toBe(true);
    expect(process.links.map((link) => link.context.spanId)).toEqual([send.spanContext().spanId]);
    expect(isChildOf(telemetry.one("get"), process)).toBe(true);
    expect(send.attributes).toEqual({
      "messaging.system": "other_jobs",
      "messaging.operation.name": "send",
      "messaging.operation.type": "send",
      "messaging.destination.name": "invoices",
      "messaging.message.id": id,
      "proj.job.duplicate": false,
      "proj.port": "JobQueue",
      "proj.method": "enqueue",
    });
    expect(process.attributes).toEqual({
      "messaging.system": "other_jobs",
      "messaging.operation.name": "process",
      "messaging.operation.type": "process",
      "messaging.destination.name": "invoices",
      "messaging.message.id": id,
      "proj.job.attempt": 1,
      "proj.port": "JobQueue",
      "proj.method": "work",
    });
    await cache.close();
  });

  it("hands the adapter an envelope with the W3C traceparent of the producer span", async () => {
    const { seen, finished } = collect(inner, "raw", 1);
    await jobs.enqueue("raw", [1, 2, 3]);
    await finished;
    const send = telemetry.one("send raw").spanContext();
    expect(seen[0]?.payload).toEqual({
      [TRACE_CONTEXT_KEY]: { traceparent: `00-${send.traceId}-${send.spanId}-01` },
      payload: [1, 2, 3],
    });
  });

  it("hands the handler a payload shaped like the envelope back exactly, traced or not", async () => {
    const lookalike = { [TRACE_CONTEXT_KEY]: { traceparent: "forged" }, payload: "mine" } as JsonValue;
    const untraced = instrumentJobQueue(inner);
    const { seen, finished } = collect(jobs, "lookalike", 2);
    await jobs.enqueue("lookalike", lookalike);
    await untraced.enqueue("lookalike", lookalike);
    await finished;
    expect(seen.map((job) => job.payload)).toEqual([lookalike, lookalike]);
  });

  it("sends payloads unwrapped when no trace is recorded, and the worker takes them as they are", async () => {
    const untraced = instrumentJobQueue(inner);
    const { seen, finished } = collect(inner, "plain", 1);
    await untraced.enqueue("plain", { a: 1 });
    await finished;
    expect(seen[0]?.payload).toEqual({ a: 1 });
    const fromPlain = collect(jobs, "from-plain", 1);
    await inner.enqueue("from-plain", "enqueued without the decorator");
    await fromPlain.finished;
    expect(fromPlain.seen[0]?.payload).toBe("enqueued without the decorator");
    expect(telemetry.one("process from-plain").links).toEqual([]);
  });

  it("keeps room for the envelope: the advertised limit fits once wrapped, one byte more is refused", async () => {
    const small = createMemoryJobQueue({ maxPayloadBytes: 4_096 });
    const traced = instrumentJobQueue(small, telemetry.options);
    const limit = traced.capabilities.maxPayloadBytes;
    expect(limit).toBe(4_096 - ENVELOPE_RESERVE_BYTES);
    const fits = "x".repeat(limit - 2);
    const { seen, finished } = collect(traced, "big", 1);
    await traced.enqueue("big", fits);
    await finished;
    expect(seen[0]?.payload).toBe(fits);
    const error = await expectErrorCode(traced.enqueue("big", `${fits}x`), "RESOURCE_EXHAUSTED");
    expect(error.retryable).toBe(false);
    await expectErrorCode(instrumentJobQueue(small).enqueue("big", `${fits}x`), "RESOURCE_EXHAUSTED");
    await small.close();
  });

  it("records a failed attempt on its process span, retries as attempt 2 under the same producer", async () => {
    const { finished } = collect(jobs, "flaky", 2, async (job) => {
      if (job.attempt === 1) throw Object.assign(new Error("downstream down"), { retryable: true });
    });
    await jobs.enqueue("flaky", { n: 1 }, { maxAttempts: 2 });
    await finished;
    const send = telemetry.one("send flaky");
    const [first, second] = telemetry.named("process flaky");
    expect(first?.attributes).toMatchObject({ "proj.job.attempt": 1, "error.type": "Error" });
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    expect(second?.attributes["proj.job.attempt"]).toBe(2);
    expect(second?.attributes["error.type"]).toBeUndefined();
    expect(isChildOf(first!, send) && isChildOf(second!, send)).toBe(true);
  });

  it("lists dead letters with the payload as enqueued, and traces cancel and redrive", async () => {
    const { finished } = collect(jobs, "doomed", 1, async () => {
      throw new InfrastructureError("INVALID_ARGUMENT", "bad invoice");
    });
    const { id } = await jobs.enqueue("doomed", { invoice: 7 });
    await finished;
    expect(telemetry.one("process doomed").attributes["error.type"]).toBe("INVALID_ARGUMENT");
    const page = await jobs.listDeadLetters("doomed");
    expect(page.items.map((letter) => letter.payload)).toEqual([{ invoice: 7 }]);
    expect(telemetry.one("listDeadLetters doomed").attributes["proj.items"]).toBe(1);
    expect(await jobs.redrive(id)).toBe(true);
    expect(await jobs.cancel(id)).toBe(true);
    expect(telemetry.one("redrive").kind).toBe(SpanKind.CLIENT);
    expect(telemetry.one("cancel").attributes["proj.method"]).toBe("cancel");
  });

  it("records the messaging metrics, and never a payload or its secret", async () => {
    const { finished } = collect(jobs, "metered", 2);
    await jobs.enqueue("metered", { password: SECRET });
    await jobs.enqueue("metered", SECRET, { idempotencyKey: `key-${SECRET}` });
    await finished;
    const points = await telemetry.points();
    const named = (name: string) =>
      points.filter(
        (point) => point.name === name && point.attributes["messaging.destination.name"] === "metered",
      );
    expect(named("messaging.client.sent.messages").map((point) => point.value)).toEqual([2]);
    expect(named("messaging.client.consumed.messages").map((point) => point.value)).toEqual([2]);
    expect(named("messaging.client.operation.duration")[0]?.value).toBe(2);
    expect(named("messaging.process.duration")[0]?.value).toBe(2);
    expect(exportedText(telemetry.spans(), points).filter((text) => text.includes(SECRET))).toEqual([]);
  });

  it("takes messaging.system from the attributes option", async () => {
    const rabbit = instrumentJobQueue(inner, {
      ...telemetry.options,
      attributes: { "messaging.system": "rabbitmq" },
    });
    await rabbit.enqueue("q", 1);
    expect(telemetry.one("send q").attributes["messaging.system"]).toBe("rabbitmq");
  });
});
