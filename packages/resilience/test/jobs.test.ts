import { createMemoryJobQueue } from "@proj/adapter-memory";
import { createChaos, withChaosJobQueue } from "@proj/chaos";
import { expectErrorCode } from "@proj/contract-tests";
import { InfrastructureError, type JobDelivery, type JobQueue } from "@proj/ports";
import { afterEach, describe, expect, it } from "vitest";
import { type ResilienceOptions, withResilienceJobQueue } from "../src/index.js";

const BASE: ResilienceOptions = {
  retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5, budget: false },
  timeoutMs: false,
  circuitBreaker: false,
};

describe("JobQueue", () => {
  const queues: JobQueue[] = [];
  afterEach(async () => {
    for (const queue of queues.splice(0)) await queue.close();
  });

  function setUp(rules: Parameters<typeof createChaos>[0]["rules"]) {
    const inner = createMemoryJobQueue();
    queues.push(inner);
    const chaos = createChaos({ seed: 1, rules });
    return { inner, chaos, jobs: withResilienceJobQueue(withChaosJobQueue(inner, chaos), BASE) };
  }

  it("never retries an enqueue without an idempotency key: a lost reply must not make two jobs", async () => {
    const { inner, chaos, jobs } = setUp([
      { operations: "enqueue", error: "UNAVAILABLE", phase: "after", times: 1 },
    ]);
    await expectErrorCode(jobs.enqueue("mail", { to: "a" }), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(1);
    const seen: unknown[] = [];
    const worker = inner.work("mail", async (job) => {
      seen.push(job.payload);
    });
    await expect.poll(() => seen.length).toBe(1);
    await worker.close();
  });

  it("retries an enqueue with an idempotency key, and the queue keeps one job", async () => {
    const { inner, chaos, jobs } = setUp([
      { operations: "enqueue", error: "UNAVAILABLE", phase: "after", times: 1 },
    ]);
    const result = await jobs.enqueue("mail", { to: "b" }, { idempotencyKey: "order-1" });
    expect(result.duplicate).toBe(true);
    expect(chaos.injectedCount).toBe(1);
    const seen: unknown[] = [];
    const worker = inner.work("mail", async (job) => {
      seen.push(job.payload);
    });
    await expect.poll(() => seen.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual([{ to: "b" }]);
    await worker.close();
  });

  it("leaves handlers to the queue: a failing attempt is redelivered by the queue, not retried by the policy", async () => {
    const { jobs } = setUp([]);
    const attempts: number[] = [];
    const worker = jobs.work(
      "mail",
      async (job: JobDelivery) => {
        attempts.push(job.attempt);
        if (job.attempt === 1) throw new InfrastructureError("UNAVAILABLE", "the mail server is down");
      },
      { backoff: { initialMs: 10, maxMs: 20 } },
    );
    await jobs.enqueue("mail", { to: "c" });
    await expect.poll(() => attempts).toEqual([1, 2]);
    await worker.close();
  });
});
