import { expectErrorCode, expectFailsWithin, FaultProxy, sleep, uniqueName } from "@proj/contract-tests";
import { type InfrastructureError, isOutcomeUnknown, sql } from "@proj/ports";
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
    const rolledBack = new Error("roll back");
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
      throw rolledBack;
    });
    // Only the deliberate error may end it: a failed expect inside would surface here instead.
    await expect(outcome).rejects.toBe(rolledBack);
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

  it("COPY bulk insert keeps separators, backslashes, empty strings, NULL and number forms intact", async () => {
    const db = await open({ int8: "bigint" });
    await db.execute(
      sql`CREATE TABLE texts (id INTEGER, label TEXT, ratio DOUBLE PRECISION, big BIGINT, flag BOOLEAN)`,
    );
    const rows = [
      [1, "tab\there", 1.5, 9_223_372_036_854_775_807n, true],
      [2, "line\nbreak\r\nand\\back", -0.25, -1n, false],
      [3, "\\N", 1e21, 0n, null],
      [4, "", Number.NaN, null, true],
      [5, null, null, 42n, false],
    ] as const;
    expect(
      await db.insertMany("texts", ["id", "label", "ratio", "big", "flag"], rows, { batchSize: 2 }),
    ).toBe(5);
    const back = await db.query<{ id: number; label: string | null; ratio: number | null }>(
      sql`SELECT id, label, ratio, big, flag FROM texts ORDER BY id`,
    );
    expect(back).toEqual([
      { id: 1, label: "tab\there", ratio: 1.5, big: 9_223_372_036_854_775_807n, flag: true },
      { id: 2, label: "line\nbreak\r\nand\\back", ratio: -0.25, big: -1n, flag: false },
      { id: 3, label: "\\N", ratio: 1e21, big: 0n, flag: null },
      { id: 4, label: "", ratio: Number.NaN, big: null, flag: true },
      { id: 5, label: null, ratio: null, big: 42n, flag: false },
    ]);
  });

  it("a synchronous source that throws midway gets its own error back, and no row of the call remains", async () => {
    const db = await open();
    await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)`);
    const failure = new Error("source failed");
    let cleanedUp = false;
    function* rows() {
      try {
        for (let id = 0; id < 5_000; id += 1) {
          if (id === 3_500) throw failure;
          yield [id, `row ${id}`] as const;
        }
      } finally {
        cleanedUp = true;
      }
    }
    await expect(db.insertMany("items", ["id", "label"], rows(), { batchSize: 1_000 })).rejects.toBe(failure);
    expect(cleanedUp).toBe(true);
    expect(await db.queryOne(sql`SELECT COUNT(*)::int AS n FROM items`)).toEqual({ n: 0 });
    await expectErrorCode(db.insertMany("items", ["id", "label"], [[1, "a"], [2]]), "INVALID_ARGUMENT");
    expect(await db.queryOne(sql`SELECT COUNT(*)::int AS n FROM items`)).toEqual({ n: 0 });
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

describe("deadlines", () => {
  let proxy: FaultProxy | undefined;

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  async function throughProxy(options: Parameters<typeof createTestDatabase>[0]) {
    proxy = await FaultProxy.start({ target: { host: "127.0.0.1", port: 5432 } });
    const schema = uniqueName("pgd");
    await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
    const db = createPostgresDatabase({
      host: proxy.host,
      port: proxy.port,
      user: "postgres",
      database: "test",
      schema,
      ...options,
    });
    return {
      db,
      async destroy() {
        await db.close();
        await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
      },
    };
  }

  it("the adapter's timeoutMs bounds a call that passes none; a call may ask for Infinity instead", async () => {
    const { db, destroy } = await throughProxy({ timeoutMs: 300, cancelGraceMs: 200, poolSize: 2 });
    try {
      await db.query(sql`SELECT 1`);
      await proxy?.set("silent");
      const bounded = await expectFailsWithin(db.query(sql`SELECT 1`), 5_000, "TIMEOUT");
      expect(isOutcomeUnknown(bounded)).toBe(true);
      let settled = false;
      const unbounded = db.query(sql`SELECT 1`, { timeoutMs: Number.POSITIVE_INFINITY }).finally(() => {
        settled = true;
      });
      await sleep(1_500);
      expect(settled).toBe(false);
      // Only the connection breaking ends it.
      proxy?.cutAll("reset");
      await expectFailsWithin(unbounded, 5_000, "UNAVAILABLE");
    } finally {
      await proxy?.heal();
      await destroy();
    }
  });

  it("with no timeoutMs anywhere, a call on a silent connection still ends: the documented 30 s default", async () => {
    const { db, destroy } = await throughProxy({ poolSize: 1 });
    try {
      await db.query(sql`SELECT 1`);
      await proxy?.set("silent");
      const started = Date.now();
      await expectFailsWithin(db.query(sql`SELECT 1`), 30_000 + 1_000 + 5_000, "TIMEOUT");
      expect(Date.now() - started).toBeGreaterThanOrEqual(29_000);
    } finally {
      await proxy?.heal();
      await destroy();
    }
  }, 60_000);

  it("a call with a shorter timeoutMs than calls already pending stops at its own deadline; theirs still hold", async () => {
    const db = await open({ poolSize: 3 });
    const long = [1, 2].map(() => db.query(sql`SELECT pg_sleep(1.5) AS slept`, { timeoutMs: 20_000 }));
    const started = Date.now();
    const short = await expectFailsWithin(
      db.query(sql`SELECT pg_sleep(10)`, { timeoutMs: 300 }),
      5_000,
      "TIMEOUT",
    );
    // The server confirmed the cancel, so nothing ran: a plain TIMEOUT, not outcome unknown.
    expect(isOutcomeUnknown(short)).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const rows of await Promise.all(long)) expect(rows).toEqual([{ slept: "" }]);
  });

  it("a call waiting for a connection times out at its own deadline, behind a longer one that then succeeds", async () => {
    const db = await open({ poolSize: 1 });
    const holder = db.query(sql`SELECT pg_sleep(1.5) AS slept`, { timeoutMs: 20_000 });
    const waiting = await expectFailsWithin(db.query(sql`SELECT 1`, { timeoutMs: 200 }), 5_000, "TIMEOUT");
    expect(waiting.message).toContain("acquiring a connection");
    expect(isOutcomeUnknown(waiting)).toBe(false);
    expect(await holder).toEqual([{ slept: "" }]);
    expect(await db.queryOne(sql`SELECT 2 AS n`)).toEqual({ n: 2 });
  });

  it("rejects a timeoutMs that is not a positive number or Infinity", async () => {
    await expectErrorCode(() => createPostgresDatabase({ timeoutMs: 0 }), "INVALID_ARGUMENT");
    const db = await open();
    await expectErrorCode(db.query(sql`SELECT 1`, { timeoutMs: -1 }), "INVALID_ARGUMENT");
  });
});

describe("clean connections", () => {
  it("close() resolves only once every socket is closed, and a termination right after it crashes nothing", async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on("uncaughtException", record);
    try {
      for (let round = 0; round < 5; round += 1) {
        const applicationName = uniqueName("close");
        const db = createPostgresDatabase({ connectionString: POSTGRES_URL, applicationName, poolSize: 3 });
        const sockets: Array<{ closed: boolean }> = [];
        (db.pool as pg.Pool).on("connect", (client) => {
          sockets.push(
            (client as unknown as { connection: { stream: { closed: boolean } } }).connection.stream,
          );
        });
        await Promise.all([1, 2, 3].map(() => db.query(sql`SELECT pg_sleep(0.02)`)));
        expect(sockets).toHaveLength(3);
        const closing = db.close();
        await admin.query(
          sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${applicationName}`,
        );
        await closing;
        expect(sockets.map((socket) => socket.closed)).toEqual([true, true, true]);
      }
      await sleep(200);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", record);
    }
  });

  it("session state set inside a transaction (SET ROLE, set_config) does not reach the next user of the connection", async () => {
    const role = uniqueName("leak");
    await admin.execute(sql`CREATE ROLE ${sql.id(role)} NOLOGIN`);
    try {
      const db = await open({ poolSize: 1 });
      const before = await db.queryOne<{ pid: number; schema: string }>(
        sql`SELECT pg_backend_pid() AS pid, current_schema() AS schema`,
      );
      await db.transaction(async (tx) => {
        await tx.execute(sql`SET ROLE ${sql.id(role)}`);
        await tx.query(sql`SELECT set_config('app.tenant_id', 'tenant-a', false)`);
        expect(await tx.queryOne(sql`SELECT current_user AS who`)).toEqual({ who: role });
      });
      const after = await db.queryOne<{ pid: number; who: string; tenant: string | null; schema: string }>(
        sql`SELECT pg_backend_pid() AS pid, current_user AS who,
            current_setting('app.tenant_id', true) AS tenant, current_schema() AS schema`,
      );
      // The same connection, reset rather than discarded; the schema from the startup options stays.
      expect(after?.pid).toBe(before?.pid);
      expect(after?.who).toBe("postgres");
      expect(after?.tenant ?? "").toBe("");
      expect(after?.schema).toBe(before?.schema);
    } finally {
      await admin.execute(sql`DROP ROLE ${sql.id(role)}`);
    }
  });

  it("a plain session-level SET outside a transaction is undone before the connection is reused", async () => {
    const db = await open({ poolSize: 1 });
    await db.execute(sql`SET application_name = 'leaked'`);
    await db.execute(sql`SET statement_timeout = 1`);
    expect(await db.queryOne(sql`SELECT current_setting('application_name') AS name`)).not.toEqual({
      name: "leaked",
    });
    // With the 1 ms statement_timeout still set, this would fail with TIMEOUT.
    await expect(db.query(sql`SELECT pg_sleep(0.05)`)).resolves.toHaveLength(1);
  });
});

describe("notifications", () => {
  it("a pool of the caller's has no listen() (no settings to connect with): notifications false", async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const db = createPostgresDatabase({ pool });
    expect(db.capabilities.notifications).toBe(false);
    expect(db.listen).toBeUndefined();
    await db.close();
    await pool.end();
  });

  it("one listening connection per database, outside the pool, shared by listeners and closed with the last", async () => {
    const name = uniqueName("pgn");
    const db = createPostgresDatabase({ connectionString: POSTGRES_URL, applicationName: name, poolSize: 1 });
    const sessions = async () =>
      (
        await admin.queryOne<{ n: number }>(
          sql`SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = ${name}`,
        )
      )?.n;
    const listen = db.listen;
    if (listen === undefined) throw new Error("listen missing");
    const listeners = await Promise.all([
      listen.call(db, `${name}_a`, () => undefined),
      listen.call(db, `${name}_b`, () => undefined),
    ]);
    expect(await sessions()).toBe(1);
    // The pool's own connection still serves while the listener holds its own.
    await db.transaction(async (tx) => {
      await tx.query(sql`SELECT 1 AS one`);
      expect(await sessions()).toBe(2);
    });
    await listeners[0]?.close();
    expect(await sessions()).toBe(2);
    await listeners[1]?.close();
    await db.close();
    await sleep(100);
    expect(await sessions()).toBe(0);
  });

  it("listen() against an unreachable server is UNAVAILABLE within the connect deadline", async () => {
    const db = createPostgresDatabase({
      host: "127.0.0.1",
      port: 1,
      user: "postgres",
      acquireTimeoutMs: 1_000,
    });
    const started = Date.now();
    await expectErrorCode(db.listen?.("ch", () => undefined) ?? Promise.resolve(), "UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(2_000);
    await db.close();
  });

  it("listen() through a silent network is TIMEOUT at its timeoutMs, and leaves no connection behind", async () => {
    await using proxy = await FaultProxy.start({ target: { host: "127.0.0.1", port: 5432 } });
    await proxy.set("silent");
    const db = createPostgresDatabase({
      host: proxy.host,
      port: proxy.port,
      user: "postgres",
      database: "test",
    });
    const started = Date.now();
    await expectErrorCode(
      db.listen?.("ch", () => undefined, { timeoutMs: 500 }) ?? Promise.resolve(),
      "TIMEOUT",
    );
    expect(Date.now() - started).toBeLessThan(1_500);
    await db.close();
    await sleep(100);
    expect(proxy.openConnections).toBe(0);
  });
});

describe("notifications under a silent network", () => {
  it("a listening connection that goes silent is found out by the heartbeat, reported, and reopened", async () => {
    await using proxy = await FaultProxy.start({ target: { host: "127.0.0.1", port: 5432 } });
    const db = createPostgresDatabase({
      host: proxy.host,
      port: proxy.port,
      user: "postgres",
      database: "test",
      acquireTimeoutMs: 500,
      timeoutMs: 500,
      listenHeartbeatMs: 300,
    });
    const events: string[] = [];
    const channel = uniqueName("ch");
    const heard: string[] = [];
    const listener = await db.listen?.(channel, (payload) => heard.push(payload), {
      onError: (error) => events.push(error.code),
      onResume: () => events.push("resume"),
    });
    await proxy.set("silent");
    const silentAt = Date.now();
    while (events.length === 0 && Date.now() - silentAt < 5_000) await sleep(50);
    // Nothing closed the socket: only the heartbeat (300 ms) missing its deadline (500 ms) can tell.
    expect(events[0]).toMatch(/^(TIMEOUT|UNAVAILABLE)$/);
    expect(Date.now() - silentAt).toBeLessThan(300 + 500 + 1_500);
    await proxy.heal();
    while (!events.includes("resume") && Date.now() - silentAt < 15_000) await sleep(50);
    expect(events.at(-1)).toBe("resume");
    await admin.query(sql`SELECT pg_notify(${channel}, 'back') AS sent`);
    while (heard.length === 0 && Date.now() - silentAt < 20_000) await sleep(50);
    expect(heard).toEqual(["back"]);
    await listener?.close();
    await db.close();
  }, 30_000);
});
