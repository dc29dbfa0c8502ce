import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { connect, createServer, type Server, type Socket } from "node:net";
import { expectErrorCode, sleep } from "@proj/contract-tests";
import { sql } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMysqlDatabase, type MysqlDatabase } from "../src/index.js";
import { admin, createScratchDatabase, MYSQL_URI, openScratch } from "./support.js";

const require = createRequire(import.meta.url);

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/**
 * A TCP relay in front of the real server: `stop()` drops every connection and refuses new ones,
 * as a server restart does, and `start()` brings it back on the same port.
 */
class ServerRelay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(3306, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    if (address && typeof address === "object") this.port = address.port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

async function count(db: MysqlDatabase, table: string): Promise<number> {
  const row = await db.queryOne<{ n: string }>(sql`SELECT COUNT(*) AS n FROM ${sql.id(table)}`);
  return Number(row?.n);
}

describe("MySQL adapter under faults", () => {
  let db: MysqlDatabase;
  let dispose: () => Promise<void>;
  const poolSize = 3;

  beforeEach(async () => {
    ({ db, dispose } = await openScratch({ poolSize, acquireTimeoutMs: 400 }));
    await db.execute(sql`CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)`);
    await db.execute(sql`INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 100)`);
  });
  afterEach(() => dispose());

  /** Opens every pooled connection at once and returns their server thread ids. */
  async function warmPool(): Promise<string[]> {
    const rows = await Promise.all(
      Array.from({ length: poolSize }, () =>
        db.queryOne<{ id: string }>(sql`SELECT CONNECTION_ID() AS id, SLEEP(${0.1}) AS slept`),
      ),
    );
    return rows.map((row) => String(row?.id));
  }

  it("survives the server killing every idle pooled connection: the next calls succeed", async () => {
    const threads = await warmPool();
    expect(new Set(threads).size).toBe(poolSize);
    for (const thread of threads) await admin(`KILL ${thread}`);
    expect(await db.queryOne(sql`SELECT 1 AS one`)).toEqual({ one: 1 });
    const after = await warmPool();
    expect(after.some((thread) => threads.includes(thread))).toBe(false);
    await db.ping();
  });

  it("reads the close of a connection the server ended while the process was busy, before writing to it", async () => {
    const threads = await warmPool();
    await sleep(5);
    // The KILLs run in another process while this one is blocked, as a process busy with
    // synchronous work would be: the servers' closes wait unread in the sockets' buffers.
    const kill = `const { createConnection } = require(${JSON.stringify(require.resolve("mysql2/promise"))});
      createConnection({ uri: ${JSON.stringify(MYSQL_URI)} }).then(async (connection) => {
        for (const thread of ${JSON.stringify(threads.map(Number))}) await connection.query("KILL " + thread);
        await connection.end();
      });`;
    execFileSync(process.execPath, ["-e", kill]);
    const until = Date.now() + 100;
    while (Date.now() < until) {
      // busy: the closes arrive meanwhile
    }
    // The idle connection is checked (one turn of the event loop) before the statement goes out:
    // the statement runs on a new connection instead of being written to a dead one.
    expect(await db.execute(sql`UPDATE accounts SET balance = balance + 1 WHERE id = 2`)).toEqual({
      affectedRows: 1,
    });
    expect(await db.queryOne(sql`SELECT balance FROM accounts WHERE id = 2`)).toEqual({ balance: 101 });
  });

  it("reports a connection killed mid-transaction as UNAVAILABLE, keeps none of its writes, and recovers", async () => {
    const outcome = db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE accounts SET balance = 0 WHERE id = 1`);
      const thread = await tx.queryOne<{ id: string }>(sql`SELECT CONNECTION_ID() AS id`);
      const sleeping = tx.query(sql`SELECT SLEEP(${10}) AS slept`);
      // It rejects while the KILL below is still being sent; awaited after that.
      sleeping.catch(() => {});
      await sleep(100);
      await admin(`KILL ${thread?.id}`);
      await sleeping;
    });
    await expectErrorCode(outcome, "UNAVAILABLE");
    expect(await db.queryOne(sql`SELECT balance FROM accounts WHERE id = 1`)).toEqual({ balance: 100 });
  });

  it("when the pool is exhausted, a call waits, then rejects with TIMEOUT, and runs once a connection frees", async () => {
    const hold = deferred();
    const holders = Array.from({ length: poolSize }, () => db.transaction(() => hold.promise));
    await sleep(50);
    const started = Date.now();
    const error = await expectErrorCode(db.query(sql`SELECT 1 AS one`), "TIMEOUT");
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(error.retryable).toBe(true);
    const controller = new AbortController();
    const aborted = db.query(sql`SELECT 1 AS one`, { signal: controller.signal });
    controller.abort();
    await expectErrorCode(aborted, "CANCELLED");
    const waiting = db.query(sql`SELECT 2 AS two`);
    await sleep(50);
    hold.resolve();
    await Promise.all(holders);
    expect(await waiting).toEqual([{ two: 2 }]);
  });

  it("a throw inside a transaction leaves no partial writes and returns the connection", async () => {
    const failure = new Error("business rule broken");
    const single = await openScratch({ poolSize: 1, acquireTimeoutMs: 400 });
    try {
      await single.db.execute(sql`CREATE TABLE ledger (id INTEGER PRIMARY KEY)`);
      const attempt = single.db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO ledger (id) VALUES (1), (2)`);
        await tx.transaction((inner) => inner.execute(sql`INSERT INTO ledger (id) VALUES (3)`));
        throw failure;
      });
      await expect(attempt).rejects.toBe(failure);
      // With one connection, this would time out if the transaction had kept it.
      expect(await count(single.db, "ledger")).toBe(0);
    } finally {
      await single.dispose();
    }
  });

  it("after a deadlock ends a transaction on the server, its later statements fail instead of autocommitting", async () => {
    const firstLocked = deferred();
    const secondLocked = deferred();
    let lateWrite: unknown;
    const victimOrWinner = (
      mine: number,
      theirs: number,
      locked: ReturnType<typeof deferred>,
      other: Promise<void>,
    ) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`UPDATE accounts SET balance = balance - 1 WHERE id = ${mine}`);
        locked.resolve();
        await other;
        try {
          await tx.execute(sql`UPDATE accounts SET balance = balance + 1 WHERE id = ${theirs}`);
        } catch (error) {
          // Swallowing the deadlock and writing on must not commit anything.
          lateWrite = await tx
            .execute(sql`UPDATE accounts SET balance = 0 WHERE id = ${mine}`)
            .catch((late) => late);
          throw error;
        }
      });
    const results = await Promise.allSettled([
      victimOrWinner(1, 2, firstLocked, secondLocked.promise),
      victimOrWinner(2, 1, secondLocked, firstLocked.promise),
    ]);
    const rejected = results.filter((result) => result.status === "rejected");
    expect(rejected).toHaveLength(1);
    await expectErrorCode(Promise.reject((rejected[0] as PromiseRejectedResult).reason), "CONFLICT");
    expect(lateWrite).toMatchObject({ code: "CONFLICT", retryable: true });
    const balances = await db.query<{ balance: number }>(sql`SELECT balance FROM accounts ORDER BY id`);
    // Only the winner's transfer happened; the victim's late write did not autocommit.
    expect(balances.map((row) => row.balance).sort((a, b) => a - b)).toEqual([99, 101]);
  });

  it("keeps injection attempts through values and identifiers as data", async () => {
    const hostile = [
      "'; DROP TABLE accounts; --",
      "\\'; DROP TABLE accounts; --",
      '" OR "1"="1',
      "` OR 1=1; --",
      "?",
    ];
    const table = "odd`name; DROP TABLE accounts; --";
    const column = "col`umn";
    await db.execute(
      sql`CREATE TABLE ${sql.id(table)} (id INTEGER PRIMARY KEY, ${sql.id(column)} TEXT NOT NULL)`,
    );
    await db.insertMany(
      table,
      ["id", column],
      hostile.map((value, index) => [index + 1, value]),
    );
    for (const value of hostile) {
      const rows = await db.query(
        sql`SELECT ${sql.id(column)} AS v FROM ${sql.id(table)} WHERE ${sql.id(column)} = ${value}`,
      );
      expect(rows).toEqual([{ v: value }]);
    }
    // The classic mysql object-injection: an object never turns into `column = value` pairs.
    expect(await db.query(sql`SELECT id FROM accounts WHERE id = ${{ id: 1 }}`)).toEqual([]);
    expect(await db.query(sql`SELECT id FROM accounts WHERE id IN ${sql.in(["x) OR (1=1"])}`)).toEqual([]);
    expect(await count(db, "accounts")).toBe(2);
    expect(await count(db, table)).toBe(hostile.length);
  });
});

describe("MySQL adapter across a server restart", () => {
  it("fails with UNAVAILABLE while the server is down, with no unhandled error, and recovers when it is back", async () => {
    const relay = new ServerRelay();
    await relay.start();
    const scratch = await createScratchDatabase();
    const db = createMysqlDatabase({
      uri: `mysql://root@127.0.0.1:${relay.port}`,
      database: scratch.name,
      poolSize: 3,
      acquireTimeoutMs: 2_000,
      connectTimeoutMs: 2_000,
    });
    try {
      await Promise.all([1, 2, 3].map((n) => db.query(sql`SELECT ${n} AS n, SLEEP(${0.05}) AS slept`)));
      await relay.stop();
      // The pool learns of the dropped sockets from their close, which takes a moment: a statement
      // written before that may have reached the server, and is never run a second time.
      await sleep(100);
      const error = await expectErrorCode(db.query(sql`SELECT 1 AS one`), "UNAVAILABLE");
      expect(error.retryable, error.message).toBe(true);
      await expectErrorCode(db.ping(), "UNAVAILABLE");
      await relay.start();
      expect(await db.queryOne(sql`SELECT 1 AS one`)).toEqual({ one: 1 });
      expect(await Promise.all([1, 2, 3].map((n) => db.queryOne(sql`SELECT ${n} AS n`)))).toEqual([
        { n: 1 },
        { n: 2 },
        { n: 3 },
      ]);
    } finally {
      await db.close();
      await relay.stop();
      await scratch.drop();
    }
  });
});
