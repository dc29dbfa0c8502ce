import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { createRedisCache } from "@proj/cache-redis";
import { uniqueName } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { createNatsJobQueue } from "@proj/queue-nats";
import { idempotencyKeyHash, QueueNames } from "@proj/queue-rabbitmq";
import { createRedisJobQueue } from "@proj/queue-redis";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LOCAL_CREDENTIALS,
  type LocalS3Server,
  startLocalS3Server,
} from "../../../packages/adapter-r2/test/support/local-s3-server.js";
import { REPORT_QUEUE } from "../src/application/reports.js";
import { type Caller, caller, json } from "./e2e/http-suite.js";

/**
 * The service on many processes: 2 API processes and 3 worker processes (`node dist/main.js`,
 * `node dist/worker.js`, as deployed) on PostgreSQL, Redis (the shared tenant cache), the
 * S3-protocol test server, and each queue adapter in turn. One row per queue: adding an adapter
 * is adding its row.
 */
const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const RABBITMQ_URL = process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";

interface QueueUnderTest {
  name: string;
  /** QUEUE_URL for a run whose database is `databaseUrl`. */
  url(databaseUrl: string): string;
  /** QUEUE_NAMESPACE of a run, unique (the adapters' name rules differ). */
  namespace(): string;
  /** Removes what a run left on the broker (the PostgreSQL queue goes with the run's database). */
  cleanup?(run: { namespace: string; cacheNamespace: string; reportIds: string[] }): Promise<void>;
}

const QUEUES: QueueUnderTest[] = [
  {
    name: "PostgreSQL (@proj/queue-postgres, in the app's database)",
    url: (databaseUrl) => databaseUrl,
    namespace: () => uniqueName("tr_jobs"),
  },
  {
    name: "Redis (@proj/queue-redis, BullMQ)",
    url: () => REDIS_URL,
    namespace: () => uniqueName("tr_jobs"),
    async cleanup({ namespace }) {
      const redis = createRedisJobQueue({ url: REDIS_URL, namespace });
      try {
        // A call first: the adapter's client connects on use (and queues nothing while offline).
        await redis.listDeadLetters(REPORT_QUEUE);
        let cursor = "0";
        do {
          const [next, keys] = await redis.client.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
          if (keys.length > 0) await redis.client.unlink(...keys);
          cursor = next;
        } while (cursor !== "0");
      } finally {
        await redis.close();
      }
    },
  },
  {
    name: "NATS JetStream (@proj/queue-nats)",
    url: () => NATS_URL,
    namespace: () => uniqueName("trj").replaceAll("_", "-").slice(0, 32),
    async cleanup({ namespace }) {
      const nats = createNatsJobQueue({ servers: NATS_URL, namespace });
      await nats.deleteQueue(REPORT_QUEUE);
      await nats.close();
    },
  },
  {
    name: "RabbitMQ (@proj/queue-rabbitmq, its state in Redis)",
    url: () => RABBITMQ_URL,
    namespace: () => uniqueName("trj"),
    async cleanup({ namespace, cacheNamespace, reportIds }) {
      // The queue, its wait queues and dead-letter stream, and one key-claim queue per report.
      const names = new QueueNames(namespace);
      const connection = await amqp.connect(RABBITMQ_URL);
      connection.on("error", () => undefined);
      try {
        const channel = await connection.createChannel();
        channel.on("error", () => undefined);
        const claims = reportIds.map((id) => names.claim(REPORT_QUEUE, idempotencyKeyHash(id)));
        for (const name of [...names.all(REPORT_QUEUE), ...claims]) await channel.deleteQueue(name);
      } finally {
        await connection.close().catch(() => undefined);
      }
      const state = createRedisCache({ url: REDIS_URL, namespace: `${cacheNamespace}-jobs` });
      await state.clear();
      await state.close();
    },
  },
];

const appDir = new URL("..", import.meta.url).pathname;
const REPORTS = 200;
/** About 8 MB of CSV: a multipart upload (5 MiB parts), in progress for the last third of the report. */
const HEAVY_ORDERS = 100_000;
const SMALL_ORDERS = [40, 90, 150, 260];
const LEASE_MS = 2_000;
/**
 * The tenant cache is the tiered one (`CACHE_URL=tiered+redis://`): a write in one process resolves
 * once its invalidation is published, and the other processes drop their L1 entry when it reaches
 * them (the bus delay: p99 19–50 ms over 4 processes on this loaded 2-core machine, per
 * @proj/cache-tiered's multi-process suite). The bound leaves room for a loaded CI machine.
 */
const INVALIDATION_BOUND_MS = 1_000;

interface Running {
  child: ChildProcess;
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `node dist/<script>.js` and resolves once it printed `ready` (or rejects when it exits first). */
function launch(
  script: "main" | "worker",
  env: Record<string, string>,
  ready: RegExp,
): Promise<Running & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, [`dist/${script}.js`], {
    cwd: appDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 90 s:\n${output}`)), 90_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, pid: child.pid ?? -1, output: () => output, exited, match });
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pooled<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index] as T, index);
      }
    }),
  );
  return results;
}

let s3: LocalS3Server;
beforeAll(async () => {
  for (const script of ["main", "worker"])
    if (!existsSync(join(appDir, "dist", `${script}.js`)))
      throw new Error(
        `dist/${script}.js is missing: build the app first (pnpm --filter tenant-reports build)`,
      );
  s3 = await startLocalS3Server();
});
afterAll(async () => {
  await s3?.close();
});

describe.each(QUEUES)("2 API and 3 worker processes, report jobs through $name", (queue) => {
  const database = uniqueName("tr_scale");
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  const secret = "a-development-secret-of-32-bytes!";
  const issuer = createMemoryTokenAuthority({ secret }).issuer;
  const processes: Running[] = [];
  let db: SqlDatabase;
  let bucket: string;
  let dataDir: string;
  const namespace = queue.namespace();
  let env: Record<string, string>;
  let apis: string[];
  let workers: Running[];

  beforeAll(async () => {
    await admin.execute(sql`CREATE DATABASE ${sql.id(database)}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${database}`;
    db = createPostgresDatabase({ connectionString: url.toString(), poolSize: 2 });
    bucket = await s3.createBucket();
    dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-scale-"));
    // The API processes mint nothing: the test signs development tokens with the key they share.
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "dev-jwt-secret"), `${secret}\n`, { mode: 0o600 });
    env = {
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: "0",
      DATABASE_URL: url.toString(),
      STORAGE_URL: `s3://${bucket}?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      CACHE_URL: `tiered+${REDIS_URL}`,
      CACHE_NAMESPACE: uniqueName("tr_scale"),
      QUEUE_URL: queue.url(url.toString()),
      QUEUE_NAMESPACE: namespace,
      API_WORKER: "false",
      WORKER_CONCURRENCY: "2",
      REPORT_LEASE_MS: String(LEASE_MS),
      // A stopped worker gives its running reports back at once (the in-process tests cover finishing them).
      SHUTDOWN_GRACE_MS: "0",
    };
    // The first process creates the tables; the others start together.
    const first = await launch("main", env, /listening on (http:\/\/\S+)/);
    processes.push(first);
    const rest = await Promise.all([
      launch("main", env, /listening on (http:\/\/\S+)/),
      ...[1, 2, 3].map(() => launch("worker", env, /taking report jobs/)),
    ]);
    processes.push(...rest);
    apis = [first.match[1] as string, rest[0]?.match[1] as string];
    workers = rest.slice(1);
  }, 240_000);

  afterAll(async () => {
    for (const running of processes) if (running.child.exitCode === null) running.child.kill("SIGKILL");
    await Promise.all(processes.map((running) => running.exited));
    const reportIds = db
      ? (await db.query<{ id: string }>(sql`SELECT id FROM reports`)).map((row) => row.id)
      : [];
    await queue.cleanup?.({ namespace, cacheNamespace: env.CACHE_NAMESPACE as string, reportIds });
    await db?.close();
    if (bucket) await s3.deleteBucket(bucket);
    await admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)} WITH (FORCE)`);
    await admin.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  async function statusCounts(): Promise<Record<string, number>> {
    const rows = await db.query<{ status: string; count: string }>(
      sql`SELECT status, COUNT(*) AS count FROM reports GROUP BY status`,
    );
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
  }

  async function uploadsInProgress(): Promise<string[]> {
    const listing = await s3.admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return (listing.Uploads ?? []).map((upload) => upload.Key ?? "");
  }

  async function storedObjects(): Promise<Map<string, number>> {
    const objects = new Map<string, number>();
    let token: string | undefined;
    do {
      const page = await s3.admin.send(
        new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
      );
      for (const entry of page.Contents ?? []) objects.set(entry.Key ?? "", entry.Size ?? -1);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects;
  }

  /** The worker process holding a running report, from the `host:pid` of its claim. */
  async function holderOf(reportId: string): Promise<Running | undefined> {
    const row = await db.queryOne<{ claimed_by: string | null }>(
      sql`SELECT claimed_by FROM reports WHERE id = ${reportId} AND status = ${"running"}`,
    );
    const pid = Number(row?.claimed_by?.split(":").at(-1));
    return workers.find((running) => running.pid === pid);
  }

  it("makes 200 reports requested across both API processes, once each, through a worker killed mid-report", async () => {
    const adminToken = await issuer.issue({ subject: "scale-admin", roles: ["admin"] });
    const asAdmin = caller(apis[0] as string, adminToken);
    const tenants: { id: string; version: number; orders: number; token: string }[] = [];
    for (const [index, orders] of [HEAVY_ORDERS, ...SMALL_ORDERS].entries()) {
      const tenant = await json<{ id: string; version: number }>(
        await asAdmin("POST", "/tenants", {
          slug: `scale-${index}-${Date.now().toString(36)}`,
          name: `T${index}`,
          plan: "pro",
        }),
        201,
      );
      const token = await issuer.issue({ subject: `user-${index}`, tenantId: tenant.id });
      // Orders loaded through the second API process: both write to the one database.
      expect(
        await json(await caller(apis[1] as string, token)("POST", "/orders/sample", { count: orders }), 201),
      ).toEqual({
        added: orders,
      });
      tenants.push({ ...tenant, orders, token });
    }
    const [heavy, ...small] = tenants;
    if (heavy === undefined) throw new Error("no heavy tenant");

    // The heavy report first, then 199 small ones, alternating between the API processes.
    const requests = [
      { tenant: heavy, format: "csv" as const },
      ...Array.from({ length: REPORTS - 1 }, (_, i) => ({
        tenant: small[i % small.length] as (typeof tenants)[number],
        format: i % 4 === 0 ? ("xlsx" as const) : ("csv" as const),
      })),
    ];
    const heavyId = (
      await json<{ id: string }>(
        await caller(apis[0] as string, heavy.token)("POST", "/reports", { format: "csv" }),
        202,
      )
    ).id;
    const requesting = pooled(requests.slice(1), 16, async ({ tenant, format }, index) => {
      const api = apis[(index + 1) % 2] as string;
      const body = await json<{ id: string; status: string }>(
        await caller(api, tenant.token)("POST", "/reports", { format }),
        202,
      );
      expect(body.status).toBe("queued");
      return { id: body.id, tenant, format };
    });

    // Kill the heavy report's worker once its multipart upload is in progress.
    const heavyKey = `tenants/${heavy.id}/reports/${heavyId}.csv`;
    const victim = await until(
      "the heavy report running with an upload in progress",
      async () => ((await uploadsInProgress()).includes(heavyKey) ? await holderOf(heavyId) : undefined),
      (holder) => holder !== undefined,
      120_000,
    );
    if (victim === undefined) throw new Error("no holder");
    victim.child.kill("SIGKILL");
    expect(await victim.exited).toBeNull();
    const requested = [{ id: heavyId, tenant: heavy, format: "csv" as const }, ...(await requesting)];
    expect(new Set(requested.map((report) => report.id)).size).toBe(REPORTS);

    const counts = await until(
      "every report done",
      statusCounts,
      (current) => (current.done ?? 0) + (current.failed ?? 0) === REPORTS,
      180_000,
    );
    expect(counts).toEqual({ done: REPORTS });
    const rows = await db.query<{
      id: string;
      tenant_id: string;
      row_count: string;
      byte_size: string;
      attempts: number;
      claimed_by: string;
    }>(sql`SELECT id, tenant_id, row_count, byte_size, attempts, claimed_by FROM reports`);
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const report of requested) {
      expect(Number(byId.get(report.id)?.row_count), report.id).toBe(report.tenant.orders);
    }
    const heavyRow = byId.get(heavyId);
    expect(heavyRow?.attempts).toBeGreaterThanOrEqual(2);
    expect(heavyRow?.claimed_by).not.toMatch(new RegExp(`:${victim.pid}$`));

    // Exactly one object per report, of the size recorded, and no upload left behind.
    const objects = await storedObjects();
    expect(objects.size).toBe(REPORTS);
    for (const report of requested) {
      const key = `tenants/${report.tenant.id}/reports/${report.id}.${report.format}`;
      expect(objects.get(key), key).toBe(Number(byId.get(report.id)?.byte_size));
    }
    expect(await uploadsInProgress()).toEqual([]);

    // Served by either API process: the heavy one through the other process than it was asked of.
    const download = await caller(apis[1] as string, heavy.token)("GET", `/reports/${heavyId}`);
    expect(download.status).toBe(200);
    const text = await download.text();
    expect(text.trimEnd().split("\r\n")).toHaveLength(HEAVY_ORDERS + 1);
  }, 420_000);

  it("refuses, through one API process, a tenant suspended through the other, within the invalidation bound", async () => {
    const adminToken = await issuer.issue({ subject: "scale-admin", roles: ["admin"] });
    const tenant = await json<{ id: string; version: number }>(
      await caller(apis[0] as string, adminToken)("POST", "/tenants", {
        slug: `suspended-${Date.now().toString(36)}`,
        name: "Suspended",
        plan: "pro",
      }),
      201,
    );
    const asTenantOnSecond: Caller = caller(
      apis[1] as string,
      await issuer.issue({ subject: "s", tenantId: tenant.id }),
    );
    // The second process reads (and caches) the tenant as active.
    expect(await json(await asTenantOnSecond("GET", `/tenants/${tenant.id}`), 200)).toMatchObject({
      status: "active",
    });

    await json(
      await caller(apis[0] as string, adminToken)("POST", `/tenants/${tenant.id}/suspend`, {
        expectedVersion: tenant.version,
      }),
      200,
    );
    const suspendedAt = Date.now();
    let refusedAfterMs: number | undefined;
    const answers: number[] = [];
    do {
      const response = await asTenantOnSecond("POST", "/reports", { format: "csv" });
      await response.body?.cancel();
      answers.push(response.status);
      if (response.status === 403) refusedAfterMs = Date.now() - suspendedAt;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    } while (refusedAfterMs === undefined && Date.now() - suspendedAt <= INVALIDATION_BOUND_MS);
    expect(
      refusedAfterMs,
      `no refusal within ${INVALIDATION_BOUND_MS} ms (answers ${answers.join(", ")})`,
    ).toBeDefined();
    // Before the invalidation reached it, the second process could only have accepted (its L1 said active).
    expect(answers.slice(0, -1).every((status) => status === 202)).toBe(true);
    expect(await json(await asTenantOnSecond("GET", `/tenants/${tenant.id}`), 200)).toMatchObject({
      status: "suspended",
    });
  });

  it("gives back, on SIGTERM, the report a worker cannot finish within its grace; another worker makes it", async () => {
    const heavyTenant = await db.queryOne<{ tenant_id: string }>(
      sql`SELECT tenant_id FROM reports GROUP BY tenant_id ORDER BY MAX(row_count) DESC LIMIT 1`,
    );
    const tenantId = heavyTenant?.tenant_id as string;
    const asHeavy = caller(apis[1] as string, await issuer.issue({ subject: "h", tenantId }));
    const { id } = await json<{ id: string }>(await asHeavy("POST", "/reports", { format: "csv" }), 202);
    const holder = await until(
      "the report running",
      () => holderOf(id),
      (found) => found !== undefined,
      60_000,
    );
    if (holder === undefined) throw new Error("no holder");
    holder.child.kill("SIGTERM");
    expect(await holder.exited).toBe(0);
    expect(holder.output()).toMatch(/SIGTERM: stopping \(1 report\(s\) running\)/);
    const done = await until(
      "the report done by the other worker",
      () =>
        db.queryOne<{ status: string; attempts: number; claimed_by: string }>(
          sql`SELECT status, attempts, claimed_by FROM reports WHERE id = ${id}`,
        ),
      (row) => row?.status === "done" || row?.status === "failed",
      120_000,
    );
    expect(done).toMatchObject({ status: "done", attempts: 2 });
    expect(done?.claimed_by).not.toMatch(new RegExp(`:${holder.pid}$`));
    expect(await uploadsInProgress()).toEqual([]);
    const objects = await storedObjects();
    expect([...objects.keys()].filter((key) => key.includes(id))).toHaveLength(1);
  }, 240_000);

  it("stops every process on SIGTERM with exit code 0", async () => {
    const alive = processes.filter(
      (running) => running.child.exitCode === null && running.child.signalCode === null,
    );
    expect(alive.length).toBeGreaterThanOrEqual(3);
    for (const running of alive) running.child.kill("SIGTERM");
    expect(await Promise.all(alive.map((running) => running.exited))).toEqual(alive.map(() => 0));
  }, 60_000);
});
