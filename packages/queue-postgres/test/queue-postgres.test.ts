// What the jobs contract cannot see: the schema and its migrations, the idempotency window and the
// purge, the options, ids that are not this adapter's, dead-letter paging.
import { createMysqlDatabase } from "@proj/adapter-mysql";
import { expectErrorCode, sleep, startFaultProxy, uniqueName } from "@proj/contract-tests";
import { InfrastructureError, type JobDelivery, type JsonValue, type SqlDatabase, sql } from "@proj/ports";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  createPostgresJobQueue,
  dropJobTables,
  type PostgresJobQueue,
  type PostgresJobQueueOptions,
  SCHEMA_VERSION,
} from "../src/index.js";
import { dropQueueRows, openDatabase, openQueue, TEST_SCHEMA, untilAborted } from "./support/backend.js";

const admin = openDatabase({ poolSize: 2 });
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => admin.close());

/** A queue that the test's clean-up closes, and a queue name whose rows it drops. */
function fresh(options: Parameters<typeof openQueue>[0] = {}): { queue: PostgresJobQueue; name: string } {
  const queue = openQueue(options);
  const name = uniqueName("qp");
  const schema = options.schema ?? TEST_SCHEMA;
  cleanups.push(async () => {
    await queue.close();
    await dropQueueRows(admin, name, schema).catch(() => undefined);
  });
  return { queue, name };
}

function freshSchema(): string {
  const schema = uniqueName("qp_schema");
  cleanups.push(() => dropJobTables(admin, schema));
  return schema;
}

async function tableNames(schema: string): Promise<string[]> {
  const rows = await admin.query<{ table_name: string }>(
    sql`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} ORDER BY table_name`,
  );
  return rows.map((row) => row.table_name);
}

/** Resolves with the first delivery of each id handled by `queue`'s worker on `name`. */
function collect(
  queue: PostgresJobQueue,
  name: string,
  options: Parameters<PostgresJobQueue["work"]>[2] = {},
) {
  const seen: JobDelivery[] = [];
  const worker = queue.work(
    name,
    async (job) => {
      seen.push(job);
    },
    options,
  );
  return { seen, worker };
}

/**
 * A queue from the built package: a module instance of its own, so the in-process wake-ups of the
 * tests' queues (from the sources) never reach it, as for a worker in another process.
 */
async function otherProcessQueue(
  options: PostgresJobQueueOptions = {},
  { listenDelayMs = 0, url }: { listenDelayMs?: number; url?: string } = {},
): Promise<PostgresJobQueue> {
  const built = (await import(new URL("../dist/index.js", import.meta.url).href)) as {
    createPostgresJobQueue: typeof createPostgresJobQueue;
  };
  const db = openDatabase({ poolSize: 3, url });
  // A LISTEN that takes this long to come up (a slow connection to a busy server), on the real one.
  const listening =
    listenDelayMs === 0
      ? db
      : new Proxy(db, {
          get(target, property) {
            if (property === "listen") {
              return async (...args: Parameters<NonNullable<SqlDatabase["listen"]>>) => {
                await sleep(listenDelayMs);
                return (target.listen as NonNullable<SqlDatabase["listen"]>).apply(target, args);
              };
            }
            const value = Reflect.get(target, property, target);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
  const queue = built.createPostgresJobQueue(listening, {
    schema: TEST_SCHEMA,
    closeDatabase: true,
    ...options,
  });
  cleanups.push(() => queue.close());
  return queue;
}

async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = "the condition",
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not hold within ${ms} ms`);
    await sleep(20);
  }
}

describe("schema", () => {
  it("creates its schema on first use, once, and migrate() then applies nothing", async () => {
    const schema = freshSchema();
    const { queue, name } = fresh({ schema });
    expect(await tableNames(schema)).toEqual([]);
    await queue.enqueue(name, { n: 1 });
    expect(await tableNames(schema)).toEqual(["dead_letters", "idempotency_keys", "jobs", "migrations"]);
    expect(await queue.migrate()).toEqual([]);
    const versions = await admin.query<{ version: number }>(
      sql`SELECT version FROM ${sql.id(schema, "migrations")} ORDER BY version`,
    );
    expect(versions.map((row) => row.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
  });

  it("migrates once when several processes start together (advisory lock)", async () => {
    const schema = freshSchema();
    const queues = [fresh({ schema }), fresh({ schema }), fresh({ schema })].map((f) => f.queue);
    const applied = await Promise.all(queues.map((queue) => queue.migrate()));
    expect(applied.flat().sort()).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(applied.filter((versions) => versions.length > 0)).toHaveLength(1);
  });

  it("with migrate: false, uses the tables migrate() made and creates none itself", async () => {
    const schema = freshSchema();
    const { queue, name } = fresh({ schema, migrate: false });
    await expectErrorCode(queue.enqueue(name, { n: 1 }), "INVALID_ARGUMENT");
    expect(await tableNames(schema)).toEqual([]);
    expect(await queue.migrate()).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    const { seen } = collect(queue, name);
    const { id } = await queue.enqueue(name, { n: 1 });
    await until(() => seen.some((job) => job.id === id), 10_000, "delivery");
  });

  it("keeps queue sets apart: a job enqueued under one schema is not seen under another", async () => {
    const other = freshSchema();
    const a = fresh();
    const b = fresh({ schema: other });
    const { seen } = collect(b.queue, a.name);
    await a.queue.enqueue(a.name, { n: 1 });
    await sleep(600);
    expect(seen).toEqual([]);
    cleanups.push(() => dropQueueRows(admin, a.name));
  });
});

describe("options", () => {
  it("refuses a schema name that is not a plain identifier, and bad numbers", () => {
    const db = openDatabase({ poolSize: 1 });
    cleanups.push(() => db.close());
    for (const schema of ["", "1jobs", "jobs; drop", "x".repeat(64), "with-dash"]) {
      expect(() => createPostgresJobQueue(db, { schema })).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createPostgresJobQueue(db, { pollIntervalMs: bad })).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
      expect(() => createPostgresJobQueue(db, { timeoutMs: bad })).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
  });

  it("refuses a SqlDatabase that is not PostgreSQL with NOT_SUPPORTED", async () => {
    const mysql = createMysqlDatabase({ uri: "mysql://root@127.0.0.1:3306/test", poolSize: 1 });
    cleanups.push(() => mysql.close());
    expect(() => createPostgresJobQueue(mysql)).toThrow(expect.objectContaining({ code: "NOT_SUPPORTED" }));
  });

  it("takes timeoutMs Infinity (no deadline) on the queue and per call", async () => {
    const { queue, name } = fresh({ timeoutMs: Number.POSITIVE_INFINITY });
    const { id } = await queue.enqueue(name, { n: 1 }, { timeoutMs: Number.POSITIVE_INFINITY });
    expect(await queue.cancel(id, { timeoutMs: Number.POSITIVE_INFINITY })).toBe(true);
    expect((await queue.listDeadLetters(name)).items).toEqual([]);
  });

  it("states its idempotency window and payload limit in capabilities", () => {
    const { queue } = fresh({ idempotencyWindowMs: 5_000, maxPayloadBytes: 1_024 });
    expect(queue.capabilities).toEqual({ shared: true, idempotencyWindowMs: 5_000, maxPayloadBytes: 1_024 });
    expect(fresh().queue.capabilities.idempotencyWindowMs).toBe(24 * 60 * 60 * 1000);
  });

  it("closes the database only when told to", async () => {
    const db = openDatabase({ poolSize: 1 });
    cleanups.push(() => db.close());
    const queue = createPostgresJobQueue(db, { schema: TEST_SCHEMA });
    await queue.close();
    await expect(db.ping()).resolves.toBeUndefined();
    const owning = createPostgresJobQueue(db, { schema: TEST_SCHEMA, closeDatabase: true });
    await owning.close();
    await expectErrorCode(db.ping(), "CLOSED");
  });
});

describe("idempotency keys", () => {
  it("forgets a key after the window: the same key then enqueues a new job", async () => {
    const { queue, name } = fresh({ idempotencyWindowMs: 1_000 });
    const first = await queue.enqueue(name, { n: 1 }, { idempotencyKey: "order-1" });
    expect(await queue.enqueue(name, { n: 2 }, { idempotencyKey: "order-1" })).toEqual({
      id: first.id,
      duplicate: true,
    });
    await sleep(1_200);
    const later = await queue.enqueue(name, { n: 3 }, { idempotencyKey: "order-1" });
    expect(later.duplicate).toBe(false);
    expect(later.id).not.toBe(first.id);
    expect(await queue.enqueue(name, { n: 4 }, { idempotencyKey: "order-1" })).toEqual({
      id: later.id,
      duplicate: true,
    });
  });

  it("purges keys older than the window in the background", async () => {
    const { queue, name } = fresh({ idempotencyWindowMs: 1_000, maintenanceIntervalMs: 200 });
    await queue.enqueue(name, { n: 1 }, { idempotencyKey: "a" });
    await queue.enqueue(name, { n: 2 }, { idempotencyKey: "b" });
    const count = async () =>
      Number(
        (
          await admin.queryOne<{ n: string }>(
            sql`SELECT count(*) AS n FROM ${sql.id(TEST_SCHEMA, "idempotency_keys")} WHERE queue = ${name}`,
          )
        )?.n,
      );
    expect(await count()).toBe(2);
    await until(async () => (await count()) === 0, 5_000, "the purge of expired keys");
  });

  it("tells keys apart byte for byte, NUL and non-ASCII characters included, per queue", async () => {
    const { queue, name } = fresh();
    const other = uniqueName("qp");
    cleanups.push(() => dropQueueRows(admin, other));
    const keys = ["a\0b", "a\0c", "é", "e\u0301", "🙂", "a"];
    const ids = [];
    for (const key of keys) ids.push(await queue.enqueue(name, { key }, { idempotencyKey: key }));
    expect(ids.every((result) => !result.duplicate)).toBe(true);
    expect(new Set(ids.map((result) => result.id)).size).toBe(keys.length);
    for (const [i, key] of keys.entries()) {
      expect(await queue.enqueue(name, null, { idempotencyKey: key })).toEqual({
        id: ids[i]?.id,
        duplicate: true,
      });
    }
    expect((await queue.enqueue(other, null, { idempotencyKey: "a" })).duplicate).toBe(false);
  });
});

/** Enqueues five jobs whose handler fails for good and waits until all five are dead letters; their ids. */
async function deadLetterFive(queue: PostgresJobQueue, name: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < 5; n++) ids.push((await queue.enqueue(name, { n }, { maxAttempts: 1 })).id);
  const worker = queue.work(
    name,
    async () => {
      throw new InfrastructureError("INVALID_ARGUMENT", "never works", { retryable: false });
    },
    { concurrency: 5 },
  );
  await until(async () => (await queue.listDeadLetters(name, { limit: 1_000 })).items.length === 5);
  await worker.close();
  return ids;
}

describe("ids and dead letters", () => {
  it("answers false for ids that are not this adapter's, and INVALID_ARGUMENT for a non-string", async () => {
    const { queue } = fresh();
    for (const id of ["some-id", "", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --"]) {
      expect(await queue.cancel(id)).toBe(false);
      expect(await queue.redrive(id)).toBe(false);
    }
    await expectErrorCode(() => queue.cancel(42 as unknown as string), "INVALID_ARGUMENT");
    await expectErrorCode(() => queue.redrive({} as unknown as string), "INVALID_ARGUMENT");
  });

  it("pages dead letters with a cursor and refuses a cursor it did not make", async () => {
    const { queue, name } = fresh();
    const ids = new Set(await deadLetterFive(queue, name));
    const listed: string[] = [];
    const trail: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await queue.listDeadLetters(name, { limit: 2, after });
      listed.push(...page.items.map((item) => item.id));
      trail.push(`after ${after}: ${page.items.map((item) => item.id).join(", ")} -> ${page.nextCursor}`);
      for (const item of page.items) {
        expect(item).toMatchObject({
          queue: name,
          attempts: 1,
          error: { code: "INVALID_ARGUMENT", message: "never works" },
        });
        expect(item.failedAt).toBeGreaterThan(Date.now() - 60_000);
      }
      after = page.nextCursor;
      pages++;
    } while (after !== undefined);
    expect(pages, trail.join("\n")).toBe(3);
    expect(new Set(listed), trail.join("\n")).toEqual(ids);
    for (const cursor of ["abc", "-1", "0", "1.5", "9".repeat(30)]) {
      await expectErrorCode(() => queue.listDeadLetters(name, { after: cursor }), "INVALID_ARGUMENT");
    }
  });

  it("pages dead letters in seq order when their seqs gain a digit (8 to 12), each once", async () => {
    // The shared schema's seq only crosses 9→10, 99→100… now and then: a schema of its own, set
    // just below 10, makes that happen on every run.
    const schema = freshSchema();
    const { queue, name } = fresh({ schema });
    await queue.migrate();
    await admin.execute(sql`SELECT setval(pg_get_serial_sequence(${`${schema}.dead_letters`}, 'seq'), 7)`);
    await deadLetterFive(queue, name);
    const bySeq = await admin.query<{ seq: string; id: string }>(
      sql`SELECT d.seq::text AS seq, d.id::text AS id FROM ${sql.id(schema, "dead_letters")} AS d ORDER BY d.seq`,
    );
    expect(bySeq.map((row) => row.seq)).toEqual(["8", "9", "10", "11", "12"]);
    const pages: string[][] = [];
    let after: string | undefined;
    do {
      const page = await queue.listDeadLetters(name, { limit: 2, after });
      pages.push(page.items.map((item) => item.id));
      after = page.nextCursor;
    } while (after !== undefined && pages.length < 10);
    const ids = bySeq.map((row) => row.id);
    expect(pages).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
  });

  it("keeps a handler error's message with NUL characters in the dead letter", async () => {
    const { queue, name } = fresh();
    const { id } = await queue.enqueue(name, { n: 1 }, { maxAttempts: 1 });
    queue.work(name, async () => {
      throw new Error("bad\0byte");
    });
    await until(async () => (await queue.listDeadLetters(name)).items.length === 1);
    const [dead] = (await queue.listDeadLetters(name)).items;
    expect(dead).toMatchObject({ id, error: { code: "INTERNAL", message: "bad\\u0000byte" } });
  });
});

describe("workers", () => {
  it("a worker that no wake-up reaches (another process, producer with notify: false) gets a job within the poll interval", async () => {
    const { queue: producer, name } = fresh({ notify: false });
    const consumer = await otherProcessQueue({ pollIntervalMs: 300 });
    const at = new Map<string, number>();
    consumer.work(name, async (job) => {
      at.set(job.id, performance.now());
    });
    await sleep(500);
    const lags: number[] = [];
    for (let n = 0; n < 5; n++) {
      const started = performance.now();
      const { id } = await producer.enqueue(name, { n });
      await until(() => at.has(id), 5_000, "delivery");
      lags.push((at.get(id) as number) - started);
    }
    expect(Math.max(...lags), `lags ${lags.map(Math.round).join(", ")} ms`).toBeLessThan(300 + 1_000);
  });

  it("a worker in another process (its own pool, listening) is woken by NOTIFY, long before its poll", async () => {
    const { queue: producer, name } = fresh();
    const errors: unknown[] = [];
    const consumer = await otherProcessQueue({
      pollIntervalMs: 10_000,
      onBackgroundError: (error) => errors.push(error),
    });
    const at = new Map<string, number>();
    consumer.work(name, async (job) => {
      at.set(job.id, performance.now());
    });
    const lags: number[] = [];
    for (let n = 0; n < 3; n++) {
      // Idle long enough that the worker's fast polls after the last job have backed off past 1 s.
      await sleep(3_000);
      const started = performance.now();
      const { id } = await producer.enqueue(name, { n });
      await until(() => at.has(id), 10_000, "delivery");
      lags.push((at.get(id) as number) - started);
    }
    expect(Math.max(...lags), `lags ${lags.map(Math.round).join(", ")} ms`).toBeLessThan(1_000);
    expect(errors).toEqual([]);
  }, 30_000);

  it("a cancel made in another process reaches the running handler by NOTIFY (or as its late listener comes up), before any lease renewal", async () => {
    const { queue: producer, name } = fresh();
    const consumer = await otherProcessQueue();
    const { handler, started, reason } = untilAborted();
    consumer.work(name, handler, { leaseMs: 30_000 });
    const { id } = await producer.enqueue(name, { n: 1 });
    await started;
    const cancelledAt = performance.now();
    expect(await producer.cancel(id)).toBe(true);
    const why = await reason;
    // The first renewal would come after 10 s. Under load the consumer's listener may come up
    // after the cancel was sent (CI once took longer than 2 s): it then checks its jobs at once.
    expect(performance.now() - cancelledAt).toBeLessThan(5_000);
    expect(why).toMatchObject({ code: "CANCELLED" });
  });

  it("a cancel sent before another process's cancel listener is up reaches its running handler once the listener is, not at the next renewal", async () => {
    const { queue: producer, name } = fresh();
    const consumer = await otherProcessQueue({}, { listenDelayMs: 3_000 });
    const { handler, started, reason } = untilAborted();
    const workingFrom = performance.now();
    consumer.work(name, handler, { leaseMs: 30_000 });
    const { id } = await producer.enqueue(name, { n: 1 });
    await started;
    const cancelledAt = performance.now();
    expect(await producer.cancel(id)).toBe(true);
    // Sent while the consumer was not listening yet: its NOTIFY reached nobody.
    expect(performance.now() - workingFrom).toBeLessThan(3_000);
    const why = await reason;
    // The listener is up 3 s after the worker started; the first renewal would come after 10 s.
    expect(performance.now() - cancelledAt).toBeLessThan(7_000);
    expect(why).toMatchObject({ code: "CANCELLED" });
  });

  it("a cancel sent while another process's listening connection is down reaches its running handler once it is back, not at the next renewal", async () => {
    const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: 5432 } });
    cleanups.push(() => proxy.close());
    const { queue: producer, name } = fresh();
    const consumer = await otherProcessQueue({}, { url: `postgres://postgres@127.0.0.1:${proxy.port}/test` });
    const { handler, started, reason } = untilAborted();
    consumer.work(name, handler, { leaseMs: 30_000 });
    const { id } = await producer.enqueue(name, { n: 1 });
    await started;
    // Every connection of the consumer is reset and new ones refused: its listener is down.
    await proxy.set("outage-reset");
    proxy.cutAll("reset");
    const cancelledAt = performance.now();
    expect(await producer.cancel(id)).toBe(true);
    await sleep(500);
    await proxy.set("pass");
    const why = await reason;
    // The first renewal would come 10 s after the job started.
    expect(performance.now() - cancelledAt).toBeLessThan(7_000);
    expect(why).toMatchObject({ code: "CANCELLED" });
  });

  it("a cancel made in another process (producer with notify: false) fires the running handler's signal at its next lease renewal", async () => {
    const { queue: producer, name } = fresh({ notify: false });
    const consumer = await otherProcessQueue();
    const { handler, started, reason } = untilAborted();
    consumer.work(name, handler, { leaseMs: 1_500 });
    const { id } = await producer.enqueue(name, { n: 1 });
    await started;
    const cancelledAt = performance.now();
    expect(await producer.cancel(id)).toBe(true);
    const why = await reason;
    expect(performance.now() - cancelledAt).toBeLessThan(1_500 / 3 + 1_000);
    expect(why).toMatchObject({ code: "CANCELLED" });
    expect(await producer.cancel(id)).toBe(false);
    await until(
      async () => {
        const row = await admin.queryOne<{ n: string }>(
          sql`SELECT count(*) AS n FROM ${sql.id(TEST_SCHEMA, "jobs")} WHERE id = ${id}::uuid`,
        );
        return row?.n === "0";
      },
      5_000,
      "the cancelled job's row to go",
    );
  });

  it("runs the handler with the stored payload and settles it: no row is left after success", async () => {
    const { queue, name } = fresh();
    const payload: JsonValue = { text: "naïve 🙂", list: [1, 2.5, null, true], nested: { deep: [{}] } };
    const got: JsonValue[] = [];
    queue.work(name, async (job) => {
      got.push(job.payload);
    });
    await queue.enqueue(name, payload);
    await until(() => got.length === 1);
    expect(got[0]).toEqual(payload);
    await until(
      async () => {
        const row = await admin.queryOne<{ n: string }>(
          sql`SELECT count(*) AS n FROM ${sql.id(TEST_SCHEMA, "jobs")} WHERE queue = ${name}`,
        );
        return row?.n === "0";
      },
      5_000,
      "the acknowledgement",
    );
  });

  it("refuses a closing deadline that is not a number of milliseconds", async () => {
    const { queue, name } = fresh();
    const worker = queue.work(name, async () => undefined);
    await expectErrorCode(() => worker.close({ deadlineMs: -1 }), "INVALID_ARGUMENT");
    await worker.close({ deadlineMs: 0 });
    expect(worker.running).toBe(0);
  });
});
