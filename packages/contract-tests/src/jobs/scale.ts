import type { JobQueue } from "@proj/ports";
import { expect } from "vitest";
import { eventually, type JobCheck, SLACK_MS, TEST_LEASE_MS } from "./harness.js";

const JOBS = 10_000;
const WORKERS = 4;
/** Enqueues in flight at once: a broker's round trip, not its throughput, would otherwise set the pace. */
const BATCH = 200;
/** How long the 10,000 jobs may take to be handled once enqueued. */
const DRAIN_MS = 90_000;

/** Many jobs through several workers, counted by id. */
export const scaleChecks: Readonly<Record<string, JobCheck>> = {
  "hands 10,000 jobs through 4 workers: every job handled, none lost, in whatever order": async (ctx) => {
    const queue = ctx.name("many");
    // Each worker on an instance of its own where instances share a backend ("four processes").
    const instances: JobQueue[] = [ctx.queue];
    for (let i = 1; i < WORKERS; i++) instances.push(await ctx.peer());
    const handled = new Map<string, number>();
    const byWorker = Array.from({ length: WORKERS }, () => 0);
    const payloadMismatches: string[] = [];
    const expected = new Map<string, number>();
    instances.forEach((instance, w) => {
      ctx.work<{ n: number }>(
        instance,
        queue,
        async (job) => {
          handled.set(job.id, (handled.get(job.id) ?? 0) + 1);
          byWorker[w]! += 1;
          const n = expected.get(job.id);
          if (n !== undefined && job.payload.n !== n) payloadMismatches.push(job.id);
        },
        { concurrency: 16 },
      );
    });
    for (let start = 0; start < JOBS; start += BATCH) {
      const results = await Promise.all(
        Array.from({ length: Math.min(BATCH, JOBS - start) }, (_, i) =>
          ctx.queue.enqueue(queue, { n: start + i }).then(({ id, duplicate }) => {
            expect(duplicate).toBe(false);
            expect(expected.has(id), `id ${id} was handed out twice`).toBe(false);
            expected.set(id, start + i);
          }),
        ),
      );
      expect(results).toHaveLength(Math.min(BATCH, JOBS - start));
    }
    expect(expected.size).toBe(JOBS);
    // Fails as soon as the jobs stop coming: a lost job is never going to, a leased one comes back
    // within its lease.
    const stallMs = TEST_LEASE_MS + ctx.resolutionMs + 3 * SLACK_MS;
    let progress = { at: Date.now(), count: handled.size };
    await eventually(
      () => {
        if (handled.size !== progress.count) progress = { at: Date.now(), count: handled.size };
        else if (Date.now() - progress.at > stallMs) {
          throw new Error(`no job was handled for ${stallMs} ms, with ${handled.size} of ${JOBS} handled`);
        }
        return handled.size >= JOBS;
      },
      () => `all ${JOBS} jobs were handled (so far ${handled.size})`,
      DRAIN_MS,
    );
    const missing = [...expected.keys()].filter((id) => !handled.has(id));
    expect(missing, "jobs never handled").toEqual([]);
    const strangers = [...handled.keys()].filter((id) => !expected.has(id));
    expect(strangers, "handled ids never enqueued").toEqual([]);
    expect(payloadMismatches, "jobs handed another job's payload").toEqual([]);
    for (const [w, count] of byWorker.entries()) {
      expect(count, `worker ${w + 1} of ${WORKERS} handled no job`).toBeGreaterThan(0);
    }
  },
};
