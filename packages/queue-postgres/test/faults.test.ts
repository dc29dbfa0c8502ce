// Faults between a worker and PostgreSQL beyond the shared jobs fault contract (fault-contract.test.ts),
// made real by a TCP proxy (the shared server is never touched): how a worker backs off and reports,
// and what becomes of the lease, the attempt and a cancel when a worker is cut off mid-job.
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { type FaultProxy, sleep, startFaultProxy, uniqueName } from "@proj/contract-tests";
import { type InfrastructureError, sql } from "@proj/ports";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BackgroundErrorContext, createPostgresJobQueue, type PostgresJobQueue } from "../src/index.js";
import { dropQueueRows, openDatabase, openQueue, TEST_SCHEMA, untilAborted } from "./support/backend.js";

/** The adapter's deadlines behind the proxy: short, so each fault settles quickly. */
const CALL_MS = 1_500;
const GRACE_MS = 500;
/** Scheduling slack of a loaded 2-core machine. */
const SLACK_MS = 1_000;
const LEASE_MS = 1_000;

const admin = openDatabase({ poolSize: 2 });
let proxy: FaultProxy;
/** A queue straight to the server (the "other process" that is not cut off). */
let direct: PostgresJobQueue;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: 5432 } });
  direct = openQueue({ maintenanceIntervalMs: 200 });
  await direct.migrate();
});
afterEach(async () => {
  await proxy.heal();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await direct.close();
  await proxy.close();
  await admin.close();
});

/** A queue whose every connection goes through the proxy, with the background errors it reported. */
function behindProxy(options: { pollIntervalMs?: number } = {}): {
  queue: PostgresJobQueue;
  errors: Array<[InfrastructureError, BackgroundErrorContext]>;
} {
  const errors: Array<[InfrastructureError, BackgroundErrorContext]> = [];
  const db = createPostgresDatabase({
    host: proxy.host,
    port: proxy.port,
    user: "postgres",
    database: "test",
    poolSize: 4,
    acquireTimeoutMs: CALL_MS,
    timeoutMs: CALL_MS,
    cancelGraceMs: GRACE_MS,
  });
  const queue = createPostgresJobQueue(db, {
    schema: TEST_SCHEMA,
    timeoutMs: CALL_MS,
    closeDatabase: true,
    onBackgroundError: (error, context) => errors.push([error, context]),
    ...options,
  });
  cleanups.push(async () => {
    await proxy.heal();
    await queue.close();
  });
  return { queue, errors };
}

function queueName(): string {
  const name = uniqueName("qpf");
  cleanups.push(() => dropQueueRows(admin, name));
  return name;
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(20);
  }
}

async function jobRows(queue: string): Promise<number> {
  const row = await admin.queryOne<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM ${sql.id(TEST_SCHEMA, "jobs")} WHERE queue = ${queue}`,
  );
  return row?.n ?? 0;
}

/**
 * Waits until the worker's claim of `id` has committed (seen from another session). A handler may
 * start while its claim's COMMIT is still on the way; a fault meant to hit a job held under a lease
 * must come after it.
 */
async function claimCommitted(id: string): Promise<void> {
  await until(
    async () => {
      const row = await admin.queryOne<{ leased: boolean }>(
        sql`SELECT lease_token IS NOT NULL AS leased FROM ${sql.id(TEST_SCHEMA, "jobs")} WHERE id = ${id}::uuid`,
      );
      return row?.leased === true;
    },
    5_000,
    "the claim's commit",
  );
}

describe("workers during a fault", () => {
  it("a worker rides out an outage without a busy loop, and takes jobs again once the database is back", async () => {
    // A worker polling every 200 ms would hide a dead listener: this one polls every 10 s.
    const { queue, errors } = behindProxy({ pollIntervalMs: 10_000 });
    const name = queueName();
    const handled = new Set<string>();
    queue.work(name, async (job) => {
      handled.add(job.id);
    });
    const { id: before } = await direct.enqueue(name, { n: 0 });
    await until(() => handled.has(before), 10_000, "the first delivery");
    await proxy.set("outage-reset");
    proxy.resetCounters();
    const { id: during } = await direct.enqueue(name, { n: 1 });
    await sleep(2_500);
    expect(handled.has(during)).toBe(false);
    // Claims back off (100 ms doubling to 5 s): a handful of connection attempts, not a storm.
    expect(proxy.rejectedConnections).toBeGreaterThan(0);
    expect(proxy.rejectedConnections).toBeLessThan(40);
    const claimErrors = errors.filter(([, context]) => context.operation === "claim");
    expect(claimErrors.length).toBeGreaterThan(0);
    for (const [error, context] of claimErrors) {
      expect(["UNAVAILABLE", "TIMEOUT"]).toContain(error.code);
      expect(context.queue).toBe(name);
    }
    await proxy.heal();
    // The back-off is at most 5 s; then one claim.
    await until(() => handled.has(during), 5_000 + CALL_MS + SLACK_MS, "the delivery after the outage");
    const { id: after } = await direct.enqueue(name, { n: 2 });
    await until(() => handled.has(after), 5_000, "a delivery after recovery");
  });

  it("a worker cut off from the database stops its handler (UNAVAILABLE) and another worker gets attempt 2", async () => {
    const { queue, errors } = behindProxy();
    const name = queueName();
    const { handler, started, reason } = untilAborted();
    queue.work(name, handler, { leaseMs: LEASE_MS });
    const { id } = await direct.enqueue(name, { n: 1 }, { maxAttempts: 2 });
    await started;
    await claimCommitted(id);
    await proxy.set("silent");
    const cutAt = Date.now();
    const why = await reason;
    expect(why).toMatchObject({ code: "UNAVAILABLE" });
    expect(Date.now() - cutAt, "the signal fired after the lease ran out").toBeLessThan(LEASE_MS + SLACK_MS);
    expect(errors.some(([, context]) => context.operation === "renew leases")).toBe(true);
    const attempts: number[] = [];
    const other = direct.work(
      name,
      async (job) => {
        if (job.id === id) attempts.push(job.attempt);
      },
      { leaseMs: LEASE_MS },
    );
    cleanups.push(() => other.close());
    await until(() => attempts.length > 0, LEASE_MS + 1_000 + SLACK_MS, "the redelivery");
    expect(attempts).toEqual([2]);
  });

  it("a job whose last attempt lost its lease goes to the dead letters, not to a handler", async () => {
    const { queue } = behindProxy();
    const name = queueName();
    const { handler, started } = untilAborted();
    queue.work(name, handler, { leaseMs: LEASE_MS });
    const { id } = await direct.enqueue(name, { n: 1 }, { maxAttempts: 1 });
    await started;
    await claimCommitted(id);
    await proxy.set("outage");
    const handled: string[] = [];
    const other = direct.work(
      name,
      async (job) => {
        handled.push(job.id);
      },
      { leaseMs: LEASE_MS },
    );
    cleanups.push(() => other.close());
    await until(
      async () => (await direct.listDeadLetters(name)).items.length === 1,
      LEASE_MS + 1_000 + SLACK_MS,
      "the dead letter",
    );
    const [dead] = (await direct.listDeadLetters(name)).items;
    expect(dead).toMatchObject({ id, attempts: 1, payload: { n: 1 }, error: { code: "UNAVAILABLE" } });
    expect(dead?.error.message).toMatch(/lease/);
    expect(handled).toEqual([]);
  });

  it("a claim whose answer is lost uses up no attempt: a job with one attempt still reaches a handler", async () => {
    const { queue, errors } = behindProxy();
    const name = queueName();
    const attempts: number[] = [];
    queue.work(
      name,
      async (job) => {
        attempts.push(job.attempt);
      },
      { leaseMs: LEASE_MS },
    );
    // The worker's claims have found the queue empty over an open connection.
    await until(() => proxy.openConnections > 0, 5_000, "the worker's connection");
    await sleep(300);
    // Every answer from the server now cuts its connection: the worker's next claim reaches the
    // server and its answer is lost (so are the answers of the connections it opens meanwhile).
    await proxy.set("cut-on-reply-reset");
    const { id } = await direct.enqueue(name, { n: 1 }, { maxAttempts: 1 });
    await until(
      () => errors.some(([, context]) => context.operation === "claim"),
      CALL_MS + GRACE_MS + SLACK_MS,
      "a failed claim",
    );
    await sleep(LEASE_MS + 300);
    await proxy.heal();
    // A lost claim counted as the job's only attempt would send it to the dead letters unhandled.
    const deadLetters = async () => (await direct.listDeadLetters(name)).items;
    await until(
      async () => attempts.length > 0 || (await deadLetters()).length > 0,
      5_000 + CALL_MS + LEASE_MS + SLACK_MS,
      "the delivery after the cuts",
    );
    expect((await deadLetters()).map((dead) => [dead.id, dead.error.message])).toEqual([]);
    expect(attempts).toEqual([1]);
    await until(async () => (await jobRows(name)) === 0, 5_000, `the acknowledgement of job ${id}`);
  });

  it("a running job cancelled while its worker is cut off: cancel says true, its row goes once the lease ends", async () => {
    const { queue } = behindProxy();
    const name = queueName();
    const { handler, started } = untilAborted();
    queue.work(name, handler, { leaseMs: LEASE_MS });
    const { id } = await direct.enqueue(name, { n: 1 });
    await started;
    await claimCommitted(id);
    await proxy.set("outage");
    expect(await direct.cancel(id)).toBe(true);
    expect(await direct.cancel(id)).toBe(false);
    const handled: string[] = [];
    const other = direct.work(name, async (job) => {
      handled.push(job.id);
    });
    cleanups.push(() => other.close());
    // The maintenance of `direct` (every 200 ms) deletes it once its lease has ended.
    await until(async () => (await jobRows(name)) === 0, LEASE_MS + 1_000 + SLACK_MS, "the purge");
    expect(handled).toEqual([]);
  });

  it("a lost listening connection is reported (operation listen); once back, NOTIFY wakes the worker again", async () => {
    // A worker polling every 200 ms would hide a dead listener: this one polls every 10 s.
    const { queue, errors } = behindProxy({ pollIntervalMs: 10_000 });
    const name = queueName();
    const handled = new Map<number, number>();
    queue.work(
      name,
      async (job) => {
        handled.set((job.payload as { n: number }).n, performance.now());
      },
      {},
    );
    const producer = createPostgresJobQueue(openDatabase({ poolSize: 2 }), {
      schema: TEST_SCHEMA,
      closeDatabase: true,
    });
    cleanups.push(() => producer.close());
    await sleep(500);
    proxy.cutAll("reset");
    await until(
      () => errors.some(([, context]) => context.operation === "listen"),
      5_000 + SLACK_MS,
      "a listen report",
    );
    const [error] = errors.find(([, context]) => context.operation === "listen") ?? [];
    expect(error?.code).toBe("UNAVAILABLE");
    // Reconnected (back-off from 100 ms), and the worker's fast polls after its failed claims have
    // backed off past a second: a job from another process comes by NOTIFY.
    await sleep(3_000);
    const started = performance.now();
    await producer.enqueue(name, { n: 1 });
    await until(() => handled.has(1), 5_000, "delivery after the reconnect");
    expect((handled.get(1) as number) - started).toBeLessThan(1_000);
  });
});
