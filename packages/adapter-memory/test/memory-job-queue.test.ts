import { isInfrastructureError, type JobDelivery, type JsonValue } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createMemoryJobQueue } from "../src/index.js";

/*
 * What is particular to the memory queue; the JobQueue contract itself runs against it in
 * packages/contract-tests/test/jobs.test.ts.
 */

async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function codeOf(action: () => unknown): Promise<string | undefined> {
  try {
    await action();
  } catch (error) {
    return isInfrastructureError(error) ? error.code : `foreign: ${String(error)}`;
  }
  return undefined;
}

describe("createMemoryJobQueue", () => {
  it("states its capabilities and refuses options out of range", async () => {
    const queue = createMemoryJobQueue({ maxPayloadBytes: 64, idempotencyWindowMs: 1_000 });
    expect(queue.capabilities).toEqual({ shared: false, idempotencyWindowMs: 1_000, maxPayloadBytes: 64 });
    expect(createMemoryJobQueue().capabilities).toEqual({
      shared: false,
      idempotencyWindowMs: 24 * 60 * 60 * 1000,
      maxPayloadBytes: 256 * 1024,
    });
    expect(await codeOf(() => createMemoryJobQueue({ maxPayloadBytes: 0 }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => createMemoryJobQueue({ idempotencyWindowMs: 1.5 }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => queue.enqueue("q", "x".repeat(63)))).toBe("RESOURCE_EXHAUSTED");
    await queue.enqueue("q", "x".repeat(62));
    await queue.close();
  });

  it("forgets an idempotency key once its window has passed", async () => {
    const queue = createMemoryJobQueue({ idempotencyWindowMs: 100 });
    const first = await queue.enqueue("q", 1, { idempotencyKey: "k" });
    expect(await queue.enqueue("q", 2, { idempotencyKey: "k" })).toEqual({ id: first.id, duplicate: true });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const later = await queue.enqueue("q", 3, { idempotencyKey: "k" });
    expect(later.duplicate).toBe(false);
    expect(later.id).not.toBe(first.id);
    await queue.close();
  });

  it("dead-letters a job released at its last attempt instead of delivering it again", async () => {
    const queue = createMemoryJobQueue();
    const seen: JobDelivery<JsonValue>[] = [];
    const { id } = await queue.enqueue("q", { n: 1 }, { maxAttempts: 1 });
    const worker = queue.work("q", (job) => {
      seen.push(job);
      return new Promise(() => undefined); // never settles, ignores its signal
    });
    await until(() => seen.length === 1, "the job started");
    await worker.close({ deadlineMs: 10 });
    expect(seen[0]!.signal.aborted).toBe(true);
    expect(isInfrastructureError(seen[0]!.signal.reason, "CLOSED")).toBe(true);
    const page = await queue.listDeadLetters("q");
    expect(page.items).toMatchObject([{ id, attempts: 1, error: { code: "CLOSED" } }]);
    // The handler still runs (it ignored its signal): it is counted until it settles.
    expect(worker.running).toBe(1);
    await queue.close();
  });

  it("takes turns among a queue's workers", async () => {
    const queue = createMemoryJobQueue();
    const counts = [0, 0, 0];
    for (const w of [0, 1, 2]) {
      queue.work("q", async () => {
        counts[w]! += 1;
      });
    }
    await Promise.all(Array.from({ length: 30 }, (_, n) => queue.enqueue("q", n)));
    await until(() => counts.reduce((a, b) => a + b) === 30, "30 jobs were handled");
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(5);
    await queue.close();
  });

  it("refuses a forged dead-letter cursor and a bad close deadline", async () => {
    const queue = createMemoryJobQueue();
    expect(await codeOf(() => queue.listDeadLetters("q", { after: "abc" }))).toBe("INVALID_ARGUMENT");
    const worker = queue.work("q", async () => undefined);
    expect(await codeOf(() => worker.close({ deadlineMs: -1 }))).toBe("INVALID_ARGUMENT");
    await worker.close({ deadlineMs: 0 });
    await queue.close();
  });

  it("holds a delay longer than a timer's range without delivering at once", async () => {
    const queue = createMemoryJobQueue();
    const seen: string[] = [];
    queue.work("q", async (job) => {
      seen.push(job.id);
    });
    const { id: far } = await queue.enqueue("q", 1, { delayMs: 3_000_000_000 });
    const { id: near } = await queue.enqueue("q", 2);
    await until(() => seen.includes(near), "the ready job was handled");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).not.toContain(far);
    expect(await queue.cancel(far)).toBe(true);
    await queue.close();
  });

  it("close() clears pending timers and later calls fail with CLOSED", async () => {
    const queue = createMemoryJobQueue();
    await queue.enqueue("q", 1, { delayMs: 60_000 });
    await queue.close();
    expect(await codeOf(() => queue.enqueue("q", 1))).toBe("CLOSED");
    expect(await codeOf(() => queue.work("q", async () => undefined))).toBe("CLOSED");
  });
});
