import { expectErrorCode, sleep, uniqueName } from "@proj/contract-tests";
import { type InfrastructureError, sql } from "@proj/ports";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createPostgresDatabase, type PostgresDatabase } from "../src/index.js";
import { admin, createTestDatabase, destroyTestDatabase, POSTGRES_URL } from "./support.js";

const opened: PostgresDatabase[] = [];

async function open(options: Parameters<typeof createTestDatabase>[0] = {}): Promise<PostgresDatabase> {
  const db = await createTestDatabase(options);
  opened.push(db);
  return db;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map(destroyTestDatabase));
});

afterAll(() => admin.close());

/** Backends of one application_name, as the server sees them. */
async function backends(applicationName: string) {
  return admin.query<{ pid: number; state: string | null; query: string }>(
    sql`SELECT pid, state, query FROM pg_stat_activity WHERE application_name = ${applicationName}`,
  );
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("cancellation on the server", () => {
  it("timeoutMs cancels the statement on the server: the backend stays, its transaction is aborted", async () => {
    const applicationName = uniqueName("cancel");
    const db = await open({ applicationName });
    // Only this error may end the transaction: a failed expectation inside must fail the test.
    const rollBack = new Error("roll back");
    const outcome = db.transaction(async (tx) => {
      await expectErrorCode(tx.query(sql`SELECT pg_sleep(30)`, { timeoutMs: 200 }), "TIMEOUT");
      // Still inside the transaction, on the same connection: the server itself stopped the sleep.
      await waitFor(
        async () =>
          (await backends(applicationName)).some((row) => row.state === "idle in transaction (aborted)"),
        "the backend to report its transaction aborted",
      );
      const [backend] = await backends(applicationName);
      expect(backend?.query).toContain("pg_sleep");
      throw rollBack;
    });
    await expect(outcome).rejects.toBe(rollBack);
  });

  it("an abort stops a pg_sleep on the server long before it would end", async () => {
    const applicationName = uniqueName("abort");
    const db = await open({ applicationName });
    const controller = new AbortController();
    const running = db.query(sql`SELECT pg_sleep(30)`, { signal: controller.signal });
    await waitFor(
      async () => (await backends(applicationName)).some((row) => row.state === "active"),
      "the sleep to start",
    );
    controller.abort();
    await expectErrorCode(running, "CANCELLED");
    await waitFor(
      async () => !(await backends(applicationName)).some((row) => row.state === "active"),
      "the server to stop the sleep",
    );
  });

  it("statementTimeoutMs is enforced by the server for every statement", async () => {
    const db = await open({ statementTimeoutMs: 200 });
    const error = await expectErrorCode(db.query(sql`SELECT pg_sleep(5)`), "TIMEOUT");
    expect(error.details.sqlState).toBe("57014");
  });
});

describe("reliability", () => {
  it("survives pg_terminate_backend of its idle connections: no crash, the next query succeeds", async () => {
    const applicationName = uniqueName("term");
    const idleErrors: InfrastructureError[] = [];
    const db = await open({ applicationName, poolSize: 3, onIdleError: (error) => idleErrors.push(error) });
    await Promise.all([1, 2, 3].map(() => db.query(sql`SELECT pg_sleep(0.05)`)));
    expect((await backends(applicationName)).length).toBe(3);
    await admin.query(
      sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${applicationName}`,
    );
    await waitFor(async () => idleErrors.length === 3, "the pool to notice the terminated connections");
    expect(idleErrors.every((error) => error.code === "UNAVAILABLE")).toBe(true);
    const rows = await Promise.all(
      [1, 2, 3, 4].map((n) => db.queryOne<{ n: number }>(sql`SELECT ${n}::int AS n`)),
    );
    expect(rows.map((row) => row?.n)).toEqual([1, 2, 3, 4]);
  });

  it("a connection terminated inside a transaction fails that transaction with UNAVAILABLE, and the pool recovers", async () => {
    const db = await open({ poolSize: 1 });
    const outcome = db.transaction(async (tx) => {
      const row = await tx.queryOne<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
      await admin.query(sql`SELECT pg_terminate_backend(${row?.pid}::int)`);
      await sleep(100);
      await tx.query(sql`SELECT 1`);
    });
    await expectErrorCode(outcome, "UNAVAILABLE");
    expect(await db.queryOne(sql`SELECT 1 AS one`)).toEqual({ one: 1 });
  });

  it("a throw inside a transaction leaves no partial write and no connection idle in transaction", async () => {
    const applicationName = uniqueName("txthrow");
    const db = await open({ applicationName, poolSize: 2 });
    await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
    for (let round = 0; round < 4; round += 1) {
      await expect(
        db.transaction(async (tx) => {
          await tx.execute(sql`INSERT INTO items (id) VALUES (${round})`);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
    }
    expect(await db.query(sql`SELECT id FROM items`)).toEqual([]);
    const states = (await backends(applicationName)).map((row) => row.state);
    expect(states.filter((state) => state?.startsWith("idle in transaction"))).toEqual([]);
  });

  it("reports a refused connection as UNAVAILABLE", async () => {
    const db = createPostgresDatabase({
      host: "127.0.0.1",
      port: 1,
      user: "postgres",
      acquireTimeoutMs: 2_000,
    });
    try {
      await expectErrorCode(db.ping(), "UNAVAILABLE");
    } finally {
      await db.close();
    }
  });

  it("a COMMIT that PostgreSQL turns into ROLLBACK (an error was caught inside) is an error, not success", async () => {
    const db = await open();
    await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
    const outcome = db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO items (id) VALUES (${1})`);
      // Caught on purpose: the transaction goes on after a failed statement.
      await expectErrorCode(tx.execute(sql`INSERT INTO items (id) VALUES (${1})`), "CONFLICT");
    });
    await expectErrorCode(outcome, "INVALID_ARGUMENT");
    expect(await db.query(sql`SELECT id FROM items`)).toEqual([]);
  });

  it("refuses a statement on a transaction while one of its streams is open, instead of hanging", async () => {
    const db = await open();
    await db.transaction(async (tx) => {
      for await (const _row of tx.stream(sql`SELECT generate_series(1, 10) AS n`, { batchSize: 2 })) {
        await expectErrorCode(tx.query(sql`SELECT 1`), "INVALID_ARGUMENT");
        break;
      }
      expect(await tx.queryOne(sql`SELECT 1 AS one`)).toEqual({ one: 1 });
    });
  });
});

describe("types", () => {
  const SELECT_TYPES = sql`SELECT 9007199254740993::int8 AS big, ARRAY[1, 2]::int8[] AS bigs,
    12.50::numeric AS amount, '2024-05-06T07:08:09Z'::timestamptz AS at,
    '{"a": [1, true]}'::jsonb AS doc, '{"b": null}'::json AS plain`;

  it("by default int8 and numeric are strings, timestamptz a Date, json and jsonb parsed", async () => {
    const db = await open();
    expect(await db.queryOne(SELECT_TYPES)).toEqual({
      big: "9007199254740993",
      bigs: ["1", "2"],
      amount: "12.50",
      at: new Date("2024-05-06T07:08:09Z"),
      doc: { a: [1, true] },
      plain: { b: null },
    });
  });

  it("int8: bigint returns BigInt values, arrays included", async () => {
    const db = await open({ int8: "bigint" });
    const row = await db.queryOne<{ big: bigint; bigs: bigint[] }>(SELECT_TYPES);
    expect(row?.big).toBe(9007199254740993n);
    expect(row?.bigs).toEqual([1n, 2n]);
  });

  it("int8: number returns numbers", async () => {
    const db = await open({ int8: "number" });
    const row = await db.queryOne<{ bigs: number[] }>(
      sql`SELECT ARRAY[1, 2]::int8[] AS bigs, 5::int8 AS five`,
    );
    expect(row).toEqual({ bigs: [1, 2], five: 5 });
  });

  it("type parsing is per pool: pg's global parsers stay untouched", async () => {
    await open({ int8: "bigint" });
    const raw = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      const result = await raw.query("SELECT 5::int8 AS five");
      expect(result.rows[0]).toEqual({ five: "5" });
    } finally {
      await raw.end();
    }
  });

  it("COPY bulk insert round-trips json, bytea and arrays", async () => {
    const db = await open();
    await db.execute(sql`CREATE TABLE docs (id INTEGER, doc JSONB, bytes BYTEA, tags TEXT[])`);
    const bytes = Buffer.from([0, 1, 2, 255]);
    await db.insertMany(
      "docs",
      ["id", "doc", "bytes", "tags"],
      [
        [
          1,
          { nested: { list: [1, "two", null] }, text: "tab\there" },
          bytes,
          ["a", 'quote"d', "back\\slash", null],
        ],
      ],
    );
    expect(await db.queryOne(sql`SELECT * FROM docs`)).toEqual({
      id: 1,
      doc: { nested: { list: [1, "two", null] }, text: "tab\there" },
      bytes,
      tags: ["a", 'quote"d', "back\\slash", null],
    });
  });
});

describe("configuration", () => {
  it("puts an oddly named schema (spaces, quotes) first on the search path", async () => {
    const schema = `${uniqueName("odd")} "x" y`;
    await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
    const db = createPostgresDatabase({ connectionString: POSTGRES_URL, schema });
    try {
      await db.execute(sql`CREATE TABLE here (id INTEGER)`);
      expect(await db.queryOne(sql`SELECT current_schema() AS s`)).toEqual({ s: schema });
      const found = await admin.query(
        sql`SELECT 1 FROM pg_tables WHERE schemaname = ${schema} AND tablename = 'here'`,
      );
      expect(found).toHaveLength(1);
    } finally {
      await db.close();
      await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
    }
  });

  it("runs on a caller-supplied pg.Pool and leaves it open on close", async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const db = createPostgresDatabase({ pool });
    try {
      expect(db.pool).toBe(pool);
      expect(await db.queryOne(sql`SELECT ${"hi"}::text AS greeting`)).toEqual({ greeting: "hi" });
      await db.close();
      await expectErrorCode(db.ping(), "CLOSED");
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it("rejects a non-positive pool size with INVALID_ARGUMENT", async () => {
    await expectErrorCode(() => createPostgresDatabase({ poolSize: 0 }), "INVALID_ARGUMENT");
  });
});
