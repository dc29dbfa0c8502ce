import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalObjectStorage } from "@proj/adapter-local-fs";
import { createMemoryJobQueue } from "@proj/adapter-memory";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { createS3CompatibleObjectStorage } from "@proj/adapter-r2";
import { expectErrorCode, uniqueName } from "@proj/contract-tests";
import {
  InfrastructureError,
  type JobDelivery,
  type JobQueue,
  type ObjectStorage,
  type ReportFormat,
  sql,
  type Tenant,
} from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { createSqlTenantRepository, type SqlTenantRepository } from "@proj/repository-tenant-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NewOrder } from "../src/application/orders.js";
import { reportKey } from "../src/application/report-generation.js";
import { ReportWorker, type ReportWorkerOptions } from "../src/application/report-worker.js";
import { REPORT_QUEUE, type ReportJob } from "../src/application/reports.js";
import { SqlOrderStore } from "../src/infrastructure/sql-order-store.js";
import { SqlReportStore } from "../src/infrastructure/sql-report-store.js";

const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const LEASE_MS = 1_000;

function orders(count: number): NewOrder[] {
  return Array.from({ length: count }, (_, i) => ({
    reference: `R-${i}`,
    customer: "Ada",
    placedAt: new Date(Date.UTC(2026, 0, 1)),
    quantity: 1 + (i % 7),
    unitPrice: "9.90",
    discount: "0.0500",
    paid: i % 2 === 0,
  }));
}

/** What the queue hands a handler, for driving `handle` the way a (re)delivery does. */
function delivery(reportId: string, attempt = 1, maxAttempts = 3, signal = new AbortController().signal) {
  return {
    id: randomUUID(),
    queue: REPORT_QUEUE,
    payload: { reportId },
    attempt,
    maxAttempts,
    signal,
  } satisfies JobDelivery<ReportJob>;
}

/** The real storage, counting the puts that reach it. */
function countingPuts(storage: ObjectStorage): { storage: ObjectStorage; puts: () => number } {
  let puts = 0;
  const counted = Object.create(storage) as ObjectStorage;
  counted.put = (...args) => {
    puts++;
    return storage.put(...args);
  };
  return { storage: counted, puts: () => puts };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the report worker on PostgreSQL and a local folder", () => {
  const schema = uniqueName("tr_worker");
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  const db = createPostgresDatabase({ connectionString: POSTGRES_URL, schema, poolSize: 6 });
  let root: string;
  let storage: ObjectStorage;
  let tenantRepository: SqlTenantRepository;
  let orderStore: SqlOrderStore;
  let reports: SqlReportStore;
  let tenant: Tenant;
  let bigTenant: Tenant;
  const workers: ReportWorker[] = [];
  const queues: JobQueue[] = [];

  function worker(
    overrides: { storage?: ObjectStorage; queue?: JobQueue } = {},
    options: Partial<ReportWorkerOptions> = {},
  ): ReportWorker {
    const queue = overrides.queue ?? createMemoryJobQueue();
    if (overrides.queue === undefined) queues.push(queue);
    const made = new ReportWorker(
      {
        queue,
        reports,
        orders: orderStore,
        storage: overrides.storage ?? storage,
        generator: createOpenReportGenerator(),
        tenants: tenantRepository,
      },
      {
        concurrency: 2,
        leaseMs: LEASE_MS,
        maxAttempts: 3,
        name: "test:1",
        sweepIntervalMs: 0,
        staleAfterMs: 0,
        backoff: { initialMs: 20, maxMs: 200 },
        ...options,
      },
    );
    workers.push(made);
    return made;
  }

  async function queued(owner: Tenant = tenant, format: ReportFormat = "csv"): Promise<string> {
    const id = randomUUID();
    await reports.record({ id, tenantId: owner.id, format });
    return id;
  }

  async function until<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    timeoutMs = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  beforeAll(async () => {
    await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
    root = await mkdtemp(join(tmpdir(), "tenant-reports-worker-"));
    storage = createLocalObjectStorage({ root });
    tenantRepository = await createSqlTenantRepository(db);
    orderStore = await SqlOrderStore.open(db);
    reports = await SqlReportStore.open(db);
    tenant = await tenantRepository.create({
      slug: uniqueName("acme").replaceAll("_", "-"),
      name: "Acme",
      plan: "pro",
    });
    bigTenant = await tenantRepository.create({
      slug: uniqueName("big").replaceAll("_", "-"),
      name: "Big",
      plan: "pro",
    });
    await orderStore.add(tenant.id, orders(120));
    await orderStore.add(bigTenant.id, orders(60_000));
  }, 120_000);

  afterAll(async () => {
    for (const made of workers) await made.close({ deadlineMs: 0 });
    for (const queue of queues) await queue.close();
    await storage?.close();
    await tenantRepository?.close();
    await db.close();
    await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
    await admin.close();
    if (root) await rm(root, { recursive: true, force: true });
  }, 60_000);

  it("makes a queued report once when two deliveries of its job arrive together, and not again after", async () => {
    const counted = countingPuts(storage);
    const one = worker({ storage: counted.storage });
    const id = await queued();
    await Promise.all([one.handle(delivery(id)), one.handle(delivery(id))]);
    const done = await reports.find(id);
    expect(done).toMatchObject({ status: "done", attempts: 1, rowCount: 120, claimedBy: "test:1" });
    expect(counted.puts()).toBe(1);
    const stored = await storage.head(reportKey(tenant.id, id, "csv"));
    expect(stored.size).toBe(done?.byteSize);

    // A redelivery long after (a lost acknowledgement): acknowledged, nothing stored again.
    await one.handle(delivery(id, 2));
    expect(counted.puts()).toBe(1);
    expect((await storage.head(reportKey(tenant.id, id, "csv"))).etag).toBe(stored.etag);
    expect((await reports.find(id))?.attempts).toBe(1);
  });

  it("takes a report over from a worker that died holding it: waits out its claim, clears what it left, makes it", async () => {
    const id = await queued();
    const key = reportKey(tenant.id, id, "csv");
    // The dead worker: claimed the report, stored a partial file, and never renewed or finished.
    const started = Date.now();
    const dead = await reports.claim(id, { token: "dead", worker: "gone:9", leaseMs: LEASE_MS });
    expect(dead.kind).toBe("claimed");
    await storage.put(key, "half a report");
    await worker().handle(delivery(id, 2));
    expect(Date.now() - started).toBeGreaterThanOrEqual(LEASE_MS);
    const done = await reports.find(id);
    expect(done).toMatchObject({ status: "done", attempts: 2, rowCount: 120, claimedBy: "test:1" });
    const text = Buffer.from((await storage.getBytes(key)).bytes).toString("utf8");
    expect(text.trimEnd().split("\r\n")).toHaveLength(121);
    // The dead worker's late writes change nothing: its token no longer holds the claim.
    expect(await reports.complete(id, "dead", { objectKey: key, rowCount: 1, byteSize: 1 })).toBe(false);
    expect(await reports.renew(id, "dead", LEASE_MS)).toBe(false);
    expect(await reports.release(id, "dead", "UNAVAILABLE")).toBe(false);
    expect(await reports.find(id)).toMatchObject({ status: "done", rowCount: 120 });
  });

  it("gives a report of a tenant suspended since its request up as PERMISSION_DENIED, without storing anything", async () => {
    const suspended = await tenantRepository.create({
      slug: uniqueName("gone").replaceAll("_", "-"),
      name: "Gone",
      plan: "pro",
    });
    await orderStore.add(suspended.id, orders(3));
    const id = await queued(suspended);
    await tenantRepository.changeStatus(suspended.id, "suspended", suspended.version);
    await worker().handle(delivery(id));
    expect(await reports.find(id)).toMatchObject({ status: "failed", errorCode: "PERMISSION_DENIED" });
    expect(await storage.exists(reportKey(suspended.id, id, "csv"))).toBe(false);
  });

  it("gives the claim back on a retryable failure, and fails the report with its code at the last attempt", async () => {
    const unreachable = createS3CompatibleObjectStorage({
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      forcePathStyle: true,
      bucket: "none",
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
      maxAttempts: 1,
    });
    try {
      const failing = worker({ storage: unreachable });
      const id = await queued();
      await expectErrorCode(failing.handle(delivery(id, 1, 3)), "UNAVAILABLE");
      expect(await reports.find(id)).toMatchObject({
        status: "queued",
        attempts: 1,
        errorCode: "UNAVAILABLE",
      });
      await failing.handle(delivery(id, 3, 3));
      expect(await reports.find(id)).toMatchObject({
        status: "failed",
        attempts: 2,
        errorCode: "UNAVAILABLE",
      });
    } finally {
      await unreachable.close();
    }
  });

  it("gives the claim back when its delivery is stopped mid-report (a worker closing), leaving no object", async () => {
    const id = await queued(bigTenant);
    const stop = new AbortController();
    const handled = worker().handle(delivery(id, 1, 3, stop.signal));
    await until(
      () => reports.find(id),
      (record) => record?.status === "running",
    );
    stop.abort(new InfrastructureError("CLOSED", "the worker is closing"));
    await expect(handled).rejects.toMatchObject({ name: "InfrastructureError" });
    expect(await reports.find(id)).toMatchObject({ status: "queued", attempts: 1 });
    expect(await storage.exists(reportKey(bigTenant.id, id, "csv"))).toBe(false);
    // Another worker makes it from a clean slate.
    await worker().handle(delivery(id, 2));
    expect(await reports.find(id)).toMatchObject({ status: "done", attempts: 2, rowCount: 60_000 });
  });

  it("on close, stops taking jobs and lets a running report finish within the grace", async () => {
    const queue = createMemoryJobQueue();
    queues.push(queue);
    const closing = worker({ queue });
    closing.start();
    const running = await queued(bigTenant);
    const waiting = await queued();
    await queue.enqueue(REPORT_QUEUE, { reportId: running }, { idempotencyKey: running });
    await until(
      () => reports.find(running),
      (record) => record?.status === "running",
    );
    await closing.close({ deadlineMs: 60_000 });
    expect(await reports.find(running)).toMatchObject({ status: "done", attempts: 1, rowCount: 60_000 });
    // A job enqueued after close began is not taken.
    await queue.enqueue(REPORT_QUEUE, { reportId: waiting }, { idempotencyKey: waiting });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await reports.find(waiting)).toMatchObject({ status: "queued", attempts: 0 });
    await reports.fail(waiting, undefined, "CANCELLED");
  });

  it("takes jobs from its queue, and a sweep enqueues again the jobs of reports that lost theirs", async () => {
    const queue = createMemoryJobQueue();
    queues.push(queue);
    // A report recorded by an API process that died before enqueuing its job.
    const orphan = await queued();
    // A report whose job was dead-lettered without the report being failed (its last attempt's
    // worker died): a worker that fails every job at once stands in for that.
    const deadLettered = await queued();
    await queue.enqueue(REPORT_QUEUE, { reportId: deadLettered }, { idempotencyKey: deadLettered });
    const failing = queue.work(REPORT_QUEUE, async () => {
      throw new InfrastructureError("INTERNAL", "not this time", { retryable: false });
    });
    await until(
      async () => (await queue.listDeadLetters(REPORT_QUEUE)).items.length,
      (count) => count === 1,
    );
    await failing.close();

    const sweeping = worker({ queue });
    sweeping.start();
    expect(await sweeping.sweep(0)).toBe(2);
    for (const id of [orphan, deadLettered]) {
      await until(
        () => reports.find(id),
        (record) => record?.status === "done",
      );
    }
    expect((await queue.listDeadLetters(REPORT_QUEUE)).items).toEqual([]);
    // Nothing is stale any more: a sweep enqueues nothing.
    expect(await sweeping.sweep(0)).toBe(0);
  });
});
