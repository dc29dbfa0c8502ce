import { uniqueName } from "@proj/contract-tests";
import { expect, test } from "vitest";
import { openQueue } from "./support/backend.js";

test("smoke", async () => {
  await using q = openQueue();
  const queue = uniqueName("smoke");
  const seen: unknown[] = [];
  const done = new Promise<void>((resolve) => {
    q.work(queue, async (job) => {
      seen.push([job.payload, job.attempt]);
      if (seen.length === 3) resolve();
    }, { concurrency: 2 });
  });
  const t0 = performance.now();
  await q.enqueue(queue, { a: 1 });
  await q.enqueue(queue, [1, "x"]);
  const r = await q.enqueue(queue, "k", { idempotencyKey: "k1" });
  const r2 = await q.enqueue(queue, "k", { idempotencyKey: "k1" });
  expect(r2).toEqual({ id: r.id, duplicate: true });
  await done;
  console.log(performance.now() - t0, seen);
});
