import { expectErrorCode, sleep } from "@proj/contract-tests";
import { type SqlIsolationLevel, type SqlQuery, sql } from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMysqlDatabase, type MysqlDatabase } from "../src/index.js";
import { describeServer } from "../src/mysql-values.js";
import { admin, MYSQL_URI, openScratch } from "./support.js";

/** Statements the server is running for `db`'s database right now, other than this lookup. */
async function runningStatements(database: string): Promise<string[]> {
  const rows = (await admin(
    `SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE DB = '${database}' AND COMMAND = 'Query'`,
  )) as Array<{ info: string | null }>;
  return rows.map((row) => row.info ?? "").filter((info) => !info.includes("PROCESSLIST"));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

describe("describeServer", () => {
  it.each([
    ["10.11.19-MariaDB-0+deb12u1", "mariadb", true],
    ["10.5.2-MariaDB", "mariadb", true],
    ["10.4.32-MariaDB-log", "mariadb", false],
    ["5.5.5-10.6.12-MariaDB", "mariadb", true],
    ["11.4.2-MariaDB", "mariadb", true],
    ["8.0.36", "mysql", false],
    ["8.4.0-commercial", "mysql", false],
  ])("reads %s as %s with returning=%s", (version, flavor, returning) => {
    expect(describeServer(version)).toEqual({ version, flavor, returning });
  });
});

describe("MySQL adapter on MariaDB", () => {
  let db: MysqlDatabase;
  let name: string;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ db, name, dispose } = await openScratch({ poolSize: 3, acquireTimeoutMs: 2_000 }));
    await db.execute(
      sql`CREATE TABLE notes (id INTEGER PRIMARY KEY AUTO_INCREMENT, body VARCHAR(200) NOT NULL)`,
    );
  });
  afterAll(() => dispose());

  it("detects INSERT ... RETURNING from the server version on the first connection, and it works", async () => {
    const fresh = createMysqlDatabase({ uri: MYSQL_URI, database: name, poolSize: 1 });
    try {
      expect([fresh.server, fresh.capabilities.returning]).toEqual([undefined, false]);
      await fresh.ping();
      expect(fresh.server?.flavor).toBe("mariadb");
      expect(fresh.capabilities.returning).toBe(true);
      const rows = await fresh.query<{ id: number; body: string }>(
        sql`INSERT INTO notes (body) VALUES (${"returned"}) RETURNING id, body`,
      );
      expect(rows).toEqual([{ id: expect.any(Number), body: "returned" }]);
    } finally {
      await fresh.close();
    }
  });

  it("lets the returning option pin the capability whatever the server", async () => {
    const pinned = createMysqlDatabase({ uri: MYSQL_URI, database: name, poolSize: 1, returning: false });
    try {
      await pinned.ping();
      expect(pinned.capabilities.returning).toBe(false);
    } finally {
      await pinned.close();
    }
  });

  it("binds database from the option over the one in the uri", async () => {
    const other = createMysqlDatabase({ uri: `${MYSQL_URI}/mysql`, database: name, poolSize: 1 });
    try {
      expect(await other.queryOne(sql`SELECT DATABASE() AS ns`)).toEqual({ ns: name });
    } finally {
      await other.close();
    }
  });

  it("rejects a uri that is not mysql:// with INVALID_ARGUMENT", async () => {
    await expectErrorCode(() => createMysqlDatabase({ uri: "postgres://localhost/x" }), "INVALID_ARGUMENT");
  });

  it("reads DATETIME, DATE, JSON and DECIMAL columns as Date, Date, parsed JSON and string", async () => {
    const at = new Date("2024-02-29T23:59:58.000Z");
    const row = await db.queryOne(
      sql`SELECT CAST(${at} AS DATETIME) AS at, DATE('2024-02-29') AS day, JSON_OBJECT('a', 1) AS doc, CAST(1.50 AS DECIMAL(5,2)) AS amount`,
    );
    expect(row).toEqual({
      at,
      day: new Date("2024-02-29T00:00:00.000Z"),
      doc: { a: 1 },
      amount: "1.50",
    });
  });

  it("runs sessions in UTC, so NOW() agrees with the client clock", async () => {
    const row = await db.queryOne<{ now: Date }>(sql`SELECT NOW() AS now`);
    expect(Math.abs((row?.now.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it("binds arrays and objects as one JSON text parameter, never as a list", async () => {
    const row = await db.queryOne(
      sql`SELECT ${[1, 2]} AS list, ${{ body: "x" }} AS doc, ${undefined} AS none`,
    );
    expect(row).toEqual({ list: "[1,2]", doc: '{"body":"x"}', none: null });
  });

  it("refuses a plain string as a statement with INVALID_ARGUMENT, for queries and streams alike", async () => {
    const text = "SELECT 1" as unknown as SqlQuery;
    await expectErrorCode(db.query(text), "INVALID_ARGUMENT");
    const rows = db.stream(text);
    await expectErrorCode(async () => {
      for await (const _row of rows) {
        // unreachable: the statement is refused before anything runs
      }
    }, "INVALID_ARGUMENT");
  });

  it("rejects a value that cannot be a parameter with INVALID_ARGUMENT", async () => {
    await expectErrorCode(() => db.query(sql`SELECT ${() => 1} AS f`), "INVALID_ARGUMENT");
  });

  it("opens the transaction with the isolation level asked for", async () => {
    // Whether a row committed meanwhile becomes visible inside the transaction tells the level apart.
    const seesConcurrentCommit = (isolationLevel: SqlIsolationLevel | undefined) =>
      db.transaction(
        async (tx) => {
          const before = await tx.query(sql`SELECT id FROM notes`);
          await db.execute(sql`INSERT INTO notes (body) VALUES (${"concurrent"})`);
          const after = await tx.query(sql`SELECT id FROM notes`);
          return after.length > before.length;
        },
        isolationLevel ? { isolationLevel } : {},
      );
    expect(await seesConcurrentCommit("read committed")).toBe(true);
    expect(await seesConcurrentCommit("repeatable read")).toBe(false);
    expect(await seesConcurrentCommit(undefined)).toBe(false);
    const serializable = await db.transaction(
      async (tx) => {
        await tx.query(sql`SELECT id FROM notes LIMIT 1`);
        // INNODB_TRX is a snapshot refreshed at most every 100 ms.
        await tx.query(sql`SELECT SLEEP(${0.2}) AS slept`);
        return tx.queryOne(
          sql`SELECT trx_isolation_level AS level FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()`,
        );
      },
      { isolationLevel: "serializable" },
    );
    expect(serializable).toEqual({ level: "SERIALIZABLE" });
  });

  it("rejects a write inside a read-only transaction", async () => {
    await expectErrorCode(
      db.transaction((tx) => tx.execute(sql`INSERT INTO notes (body) VALUES (${"ro"})`), { readOnly: true }),
      "INVALID_ARGUMENT",
    );
  });

  it("kills a timed-out statement on the server, not only in the client", async () => {
    await expectErrorCode(db.query(sql`SELECT SLEEP(${20}) AS slept`, { timeoutMs: 200 }), "TIMEOUT");
    expect(await waitUntil(async () => (await runningStatements(name)).length === 0)).toBe(true);
  });

  it("applies statementTimeoutMs to every statement that sets no timeoutMs", async () => {
    const strict = createMysqlDatabase({
      uri: MYSQL_URI,
      database: name,
      poolSize: 1,
      statementTimeoutMs: 200,
    });
    try {
      await expectErrorCode(strict.query(sql`SELECT SLEEP(${20}) AS slept`), "TIMEOUT");
      expect(await strict.query(sql`SELECT SLEEP(${0.5}) AS slept`, { timeoutMs: 5_000 })).toEqual([
        { slept: 0 },
      ]);
    } finally {
      await strict.close();
    }
  });

  it("kills an aborted statement on the server and keeps the connection", async () => {
    const before = await db.transaction(async (tx) => {
      const thread = await tx.queryOne<{ id: string }>(sql`SELECT CONNECTION_ID() AS id`);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await expectErrorCode(
        tx.query(sql`SELECT SLEEP(${20}) AS slept`, { signal: controller.signal }),
        "CANCELLED",
      );
      const again = await tx.queryOne<{ id: string }>(sql`SELECT CONNECTION_ID() AS id`);
      return [thread?.id, again?.id];
    });
    expect(before[0]).toBe(before[1]);
    expect(await runningStatements(name)).toEqual([]);
  });

  it("answers an aborted transaction at once, killing its running statement and rolling back", async () => {
    const single = createMysqlDatabase({
      uri: MYSQL_URI,
      database: name,
      poolSize: 1,
      acquireTimeoutMs: 1_000,
    });
    try {
      const controller = new AbortController();
      const started = Date.now();
      const outcome = single.transaction(
        async (tx) => {
          await tx.execute(sql`INSERT INTO notes (body) VALUES (${"aborted"})`);
          setTimeout(() => controller.abort(), 200);
          await tx.query(sql`SELECT SLEEP(${20}) AS slept`);
        },
        { signal: controller.signal },
      );
      await expectErrorCode(outcome, "CANCELLED");
      expect(Date.now() - started).toBeLessThan(5_000);
      // The single connection is back, the insert rolled back, and nothing runs on the server.
      expect(await single.query(sql`SELECT id FROM notes WHERE body = ${"aborted"}`)).toEqual([]);
      expect(await runningStatements(name)).toEqual([]);
    } finally {
      await single.close();
    }
  });

  it("stops the statement on the server when a stream is left early, and reuses the connection", async () => {
    const single = createMysqlDatabase({ uri: MYSQL_URI, database: name, poolSize: 1 });
    try {
      const thread = await single.queryOne<{ id: string }>(sql`SELECT CONNECTION_ID() AS id`);
      let seen = 0;
      // A generated sequence far larger than any buffer: the server is still producing rows.
      for await (const _row of single.stream(sql`SELECT seq FROM seq_1_to_50000000`, { batchSize: 100 })) {
        seen += 1;
        if (seen === 1_000) break;
      }
      expect(seen).toBe(1_000);
      expect(await waitUntil(async () => (await runningStatements(name)).length === 0)).toBe(true);
      expect(await single.queryOne(sql`SELECT CONNECTION_ID() AS id`)).toEqual(thread);
    } finally {
      await single.close();
    }
  });

  it("connects lazily: a server that refuses connections is UNAVAILABLE on use, not on creation", async () => {
    const unreachable = createMysqlDatabase({ uri: "mysql://root@127.0.0.1:1", acquireTimeoutMs: 1_000 });
    try {
      const error = await expectErrorCode(unreachable.ping(), "UNAVAILABLE");
      expect(error.message).toContain("127.0.0.1:1");
      await expectErrorCode(unreachable.query(sql`SELECT 1 AS one`), "UNAVAILABLE");
    } finally {
      await unreachable.close();
    }
  });

  it("reports an unknown user as PERMISSION_DENIED without echoing the password", async () => {
    const denied = createMysqlDatabase({ uri: "mysql://no_such_user:s3cret-pw@127.0.0.1:3306" });
    try {
      const error = await expectErrorCode(denied.ping(), "PERMISSION_DENIED");
      expect(error.message).not.toContain("s3cret-pw");
    } finally {
      await denied.close();
    }
  });

  it("offers the mysql2 pool as an escape hatch", async () => {
    const [rows] = await db.pool.query("SELECT 1 AS one");
    expect(rows).toEqual([{ one: 1 }]);
  });
});
