import { uniqueName } from "@proj/contract-tests";
import type { JobDelivery } from "@proj/ports";
import { afterAll, describe, expect, it } from "vitest";
import { QueueFixture } from "./support/harness.js";

const fixture = new QueueFixture();
afterAll(() => fixture.clear());

describe("smoke", () => {
  it("enqueues, delivers, delays, retries, dead-letters, redrives, cancels", async () => {
    const q = await fixture.create();
    const name = uniqueName("smoke");
    try {
      const seen: JobDelivery[] = [];
      const t0 = Date.now();
      const a = await q.enqueue(name, { n: 1 });
      const b = await q.enqueue(name, { n: 2 }, { delayMs: 700 });
      const c = await q.enqueue(name, { n: 3 }, { maxAttempts: 2 });
      const d = await q.enqueue(name, { n: 4 }, { delayMs: 5_000 });
      expect(await q.cancel(d.id)).toBe(true);
      expect(await q.cancel(d.id)).toBe(false);
      const k1 = await q.enqueue(name, { n: 5 }, { idempotencyKey: "k" });
      const k2 = await q.enqueue(name, { n: 6 }, { idempotencyKey: "k" });
      expect(k1.duplicate).toBe(false);
      expect(k2).toEqual({ id: k1.id, duplicate: true });
      const times = new Map<string, number>();
      const worker = q.work(
        name,
        async (job) => {
          seen.push(job);
          times.set(`${job.id}:${job.attempt}`, Date.now() - t0);
          if (job.id === c.id) throw Object.assign(new Error(`fail ${job.attempt}`), { retryable: true });
        },
        { concurrency: 2, leaseMs: 1_000, backoff: { initialMs: 20, maxMs: 200 } },
      );
      await expect.poll(() => seen.filter((s) => s.id === b.id).length, { timeout: 5_000 }).toBe(1);
      await expect.poll(async () => (await q.listDeadLetters(name)).items.length, { timeout: 5_000 }).toBe(1);
      const dead = (await q.listDeadLetters(name)).items[0];
      expect(dead).toMatchObject({
        id: c.id,
        attempts: 2,
        payload: { n: 3 },
        error: { code: "INTERNAL", message: "fail 2" },
      });
      console.log(Object.fromEntries(times));
      expect(times.get(`${b.id}:1`)).toBeGreaterThanOrEqual(700);
      expect(seen.filter((s) => s.id === a.id)).toHaveLength(1);
      expect(seen.filter((s) => s.id === k1.id)).toHaveLength(1);
      expect(seen.filter((s) => s.id === k2.id)).toHaveLength(1);
      expect(seen.filter((s) => s.payload && (s.payload as { n: number }).n === 6)).toHaveLength(0);
      expect(await q.redrive(c.id)).toBe(true);
      expect(await q.redrive(c.id)).toBe(false);
      await expect.poll(() => seen.filter((s) => s.id === c.id).length, { timeout: 5_000 }).toBe(4);
      await worker.close();
    } finally {
      await fixture.destroy(q);
      await fixture.dropQueue(name);
    }
  });
});
