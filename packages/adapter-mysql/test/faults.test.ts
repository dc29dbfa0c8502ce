import type { Socket } from "node:net";
import {
  expectFailsWithin,
  expectRecoversWithin,
  expectSettlesWithin,
  type FaultMode,
  FaultProxy,
  sleep,
} from "@proj/contract-tests";
import { isOutcomeUnknown, sql } from "@proj/ports";
import type { PoolConnection } from "mysql2";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMysqlDatabase, type MysqlDatabase, type MysqlDatabaseOptions } from "../src/index.js";
import { admin, createScratchDatabase } from "./support.js";

/** The adapter's deadlines in these tests: short, so a hang shows quickly. */
const CALL_MS = 1_500;
/** What the adapter may take past a deadline: the KILL's grace period. */
const GRACE_MS = 2_000;
/** Headroom for a loaded 2-core machine; a hang never answers at all. */
const MARGIN_MS = 4_000;
const CALL_BOUND = CALL_MS + GRACE_MS + MARGIN_MS;
const TEST_TIMEOUT = 60_000;

interface Subject {
  db: MysqlDatabase;
  name: string;
  /** Every socket the pool opened, to check that close() let go of them all. */
  sockets: Socket[];
}

describe("MySQL adapter through a fault proxy", () => {
  let proxy: FaultProxy;
  let scratch: { name: string; drop(): Promise<void> };
  const opened: MysqlDatabase[] = [];

  beforeEach(async () => {
    proxy = await FaultProxy.start({ target: { host: "127.0.0.1", port: 3306 } });
    scratch = await createScratchDatabase("mysql_faults");
    await admin(
      `CREATE TABLE \`${scratch.name}\`.items (id INTEGER AUTO_INCREMENT PRIMARY KEY, label VARCHAR(50) NOT NULL)`,
    );
  });

  afterEach(async () => {
    await proxy.heal().catch(() => undefined);
    await Promise.all(opened.splice(0).map((db) => db.close()));
    await proxy.close();
    await scratch.drop();
  }, TEST_TIMEOUT);

  function open(options: Partial<MysqlDatabaseOptions> = {}): Subject {
    const db = createMysqlDatabase({
      uri: `mysql://root@${proxy.host}:${proxy.port}`,
      database: scratch.name,
      poolSize: 2,
      timeoutMs: CALL_MS,
      acquireTimeoutMs: 2_000,
      connectTimeoutMs: 2_000,
      ...options,
    });
    const sockets: Socket[] = [];
    db.pool.pool.on("connection", (core: PoolConnection) => {
      sockets.push((core as unknown as { stream: Socket }).stream);
    });
    opened.push(db);
    return { db, name: scratch.name, sockets };
  }

  /** Rows in `items`, counted on the server over a connection of its own, never through the adapter. */
  async function countItems(): Promise<number> {
    const rows = (await admin(`SELECT COUNT(*) AS n FROM \`${scratch.name}\`.items`)) as Array<{ n: number }>;
    return Number(rows[0]?.n);
  }

  /** Opens both pooled connections and leaves them idle. */
  async function warm(db: MysqlDatabase): Promise<void> {
    await Promise.all([1, 2].map(() => db.query(sql`SELECT SLEEP(${0.05}) AS slept`)));
  }

  async function expectServes(db: MysqlDatabase): Promise<void> {
    await expectRecoversWithin(() => db.query(sql`SELECT 1 AS one`), 2 * CALL_BOUND);
    // More calls than connections: a slot still held by a failed call would make one wait it out.
    const all = await expectSettlesWithin(
      Promise.all([1, 2, 3].map((n) => db.queryOne(sql`SELECT ${n} AS n`))),
      CALL_BOUND,
    );
    expect(all.ok).toBe(true);
  }

  describe("no duplicate write", () => {
    for (const mode of ["cut-on-reply-close", "cut-on-reply-reset"] as FaultMode[]) {
      it(
        `an autocommit INSERT whose reply is cut (${mode}) runs once and reports an unknown outcome`,
        async () => {
          const { db } = open();
          await warm(db);
          await proxy.set(mode);
          const error = await expectFailsWithin(
            db.execute(sql`INSERT INTO items (label) VALUES ('once')`),
            CALL_BOUND,
            "UNAVAILABLE",
          );
          expect(isOutcomeUnknown(error), error.message).toBe(true);
          expect(error.retryable).toBe(false);
          await proxy.heal();
          expect(await countItems()).toBe(1);
          await expectServes(db);
          expect(await countItems()).toBe(1);
        },
        TEST_TIMEOUT,
      );
    }

    it(
      "an autocommit INSERT whose reply is lost runs once: TIMEOUT at the deadline, outcome unknown",
      async () => {
        const { db } = open();
        await warm(db);
        await proxy.set("lose-replies");
        const error = await expectFailsWithin(
          db.execute(sql`INSERT INTO items (label) VALUES ('once')`),
          CALL_BOUND,
          "TIMEOUT",
        );
        expect(isOutcomeUnknown(error), error.message).toBe(true);
        expect(error.retryable).toBe(false);
        expect(await countItems()).toBe(1);
        await proxy.heal();
        await expectServes(db);
      },
      TEST_TIMEOUT,
    );

    it(
      "a statement on a connection found closed before anything was written runs on another one",
      async () => {
        const { db, sockets } = open();
        await warm(db);
        // Both idle connections are dead, and the adapter has read their close: nothing was sent.
        for (const socket of sockets) socket.destroy();
        await sleep(50);
        expect(await db.execute(sql`INSERT INTO items (label) VALUES ('fresh')`)).toEqual({
          affectedRows: 1,
        });
        expect(await countItems()).toBe(1);
      },
      TEST_TIMEOUT,
    );
  });

  describe("no hangs", () => {
    it(
      "a query on a silent connection, with no timeout of its own, ends with TIMEOUT at the default deadline",
      async () => {
        const { db } = open();
        await warm(db);
        await proxy.set("silent");
        const started = Date.now();
        const error = await expectFailsWithin(db.query(sql`SELECT 1 AS one`), CALL_BOUND, "TIMEOUT");
        expect(Date.now() - started).toBeGreaterThanOrEqual(CALL_MS - 50);
        expect(error.message).toContain("SELECT 1");
        await proxy.heal();
        await expectServes(db);
      },
      TEST_TIMEOUT,
    );

    it(
      "timeoutMs and a signal settle calls on a silent connection",
      async () => {
        const { db } = open({ timeoutMs: 30_000 });
        await warm(db);
        await proxy.set("silent");
        await expectFailsWithin(
          db.query(sql`SELECT 1 AS one`, { timeoutMs: 500 }),
          500 + GRACE_MS + MARGIN_MS,
          "TIMEOUT",
        );
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 300);
        await expectFailsWithin(
          db.query(sql`SELECT 2 AS two`, { signal: controller.signal }),
          300 + GRACE_MS + MARGIN_MS,
          "CANCELLED",
        );
      },
      TEST_TIMEOUT,
    );

    it(
      "the deadline covers opening a connection: a silent handshake is TIMEOUT at the deadline, retryable, nothing sent",
      async () => {
        const { db } = open({ connectTimeoutMs: 20_000 });
        await proxy.set("silent");
        const error = await expectFailsWithin(db.query(sql`SELECT 1 AS one`), CALL_BOUND, "TIMEOUT");
        expect(isOutcomeUnknown(error)).toBe(false);
        expect(error.retryable).toBe(true);
        await proxy.heal();
        await expectServes(db);
      },
      TEST_TIMEOUT,
    );

    it(
      "Infinity lifts the deadline only when asked for: the call waits for a slow server",
      async () => {
        const { db } = open({ timeoutMs: Number.POSITIVE_INFINITY });
        await warm(db);
        proxy.setLatency(CALL_MS + 500);
        expect(await db.queryOne(sql`SELECT 1 AS one`)).toEqual({ one: 1 });
        await expect(
          Promise.resolve().then(() => createMysqlDatabase({ uri: "mysql://root@127.0.0.1", timeoutMs: 0 })),
        ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
      },
      TEST_TIMEOUT,
    );

    it(
      "a stream whose connection goes silent mid-transfer ends with TIMEOUT",
      async () => {
        const { db } = open();
        await warm(db);
        const iterate = async () => {
          let seen = 0;
          // 100 MB: far more than the socket buffers hold once the network goes silent.
          const rows = sql`SELECT seq, REPEAT('x', 100) AS filler FROM seq_1_to_1000000`;
          for await (const _row of db.stream(rows, { batchSize: 10 })) {
            seen += 1;
            if (seen === 1) await proxy.set("silent");
            // A slow consumer is not what the deadline is about: this one is slower than it.
            if (seen === 2) await sleep(CALL_MS + 200);
          }
          return seen;
        };
        await expectFailsWithin(iterate(), 2 * CALL_BOUND, "TIMEOUT");
        await proxy.heal();
        await expectServes(db);
      },
      TEST_TIMEOUT,
    );

    it(
      "a COMMIT whose reply is lost is an unknown outcome, not retryable, and did commit",
      async () => {
        const { db } = open();
        await warm(db);
        const error = await expectFailsWithin(
          db.transaction(async (tx) => {
            await tx.execute(sql`INSERT INTO items (label) VALUES ('committed')`);
            await proxy.set("lose-replies");
          }),
          CALL_BOUND,
          "TIMEOUT",
        );
        expect(isOutcomeUnknown(error), error.message).toBe(true);
        expect(error.retryable).toBe(false);
        expect(await countItems()).toBe(1);
        await proxy.heal();
        await expectServes(db);
      },
      TEST_TIMEOUT,
    );

    it(
      "a COMMIT cut by the peer is UNAVAILABLE with an unknown outcome, not retryable",
      async () => {
        const { db } = open();
        await warm(db);
        const error = await expectFailsWithin(
          db.transaction(async (tx) => {
            await tx.execute(sql`INSERT INTO items (label) VALUES ('committed')`);
            await proxy.set("cut-on-reply-close");
          }),
          CALL_BOUND,
          "UNAVAILABLE",
        );
        expect(isOutcomeUnknown(error), error.message).toBe(true);
        expect(error.retryable).toBe(false);
        await proxy.heal();
        expect(await countItems()).toBe(1);
      },
      TEST_TIMEOUT,
    );

    it(
      "a COMMIT stuck on a silent connection honours the transaction's signal",
      async () => {
        const { db } = open({ timeoutMs: 60_000 });
        await warm(db);
        const controller = new AbortController();
        const error = await expectFailsWithin(
          db.transaction(
            async (tx) => {
              await tx.execute(sql`INSERT INTO items (label) VALUES ('maybe')`);
              await proxy.set("silent");
              setTimeout(() => controller.abort(), 300);
            },
            { signal: controller.signal },
          ),
          300 + GRACE_MS + MARGIN_MS,
          "CANCELLED",
        );
        expect(isOutcomeUnknown(error), error.message).toBe(true);
        expect(error.retryable).toBe(false);
      },
      TEST_TIMEOUT,
    );
  });

  describe("self-healing", () => {
    it(
      "connections that missed their deadline are destroyed and their slots freed: the pool serves once the network heals",
      async () => {
        const { db } = open();
        await warm(db);
        await proxy.set("silent");
        for (const n of [1, 2]) {
          await expectFailsWithin(db.query(sql`SELECT ${n} AS n`), CALL_BOUND, "TIMEOUT");
        }
        await proxy.heal();
        // Two slots, both calls timed out: a slot still held would leave only acquire timeouts.
        expect(await db.queryOne(sql`SELECT 3 AS n`)).toEqual({ n: 3 });
        await expectServes(db);
        expect(proxy.openConnections).toBeLessThanOrEqual(2);
      },
      TEST_TIMEOUT,
    );

    it(
      "an outage fails calls within the bound, spaces reconnect attempts, and serves again once it ends",
      async () => {
        const { db } = open();
        await warm(db);
        // Every connection attempt is accepted and then cut, so the proxy counts each one.
        await proxy.set("cut-mid-request", { afterBytes: 0 });
        proxy.cutAll("reset");
        proxy.resetCounters();
        const outageMs = 3_000;
        const until = Date.now() + outageMs;
        let calls = 0;
        const caller = async () => {
          while (Date.now() < until) {
            calls += 1;
            await expectFailsWithin(db.query(sql`SELECT 1 AS one`), CALL_BOUND, ["UNAVAILABLE", "TIMEOUT"]);
          }
        };
        await Promise.all(Array.from({ length: 8 }, caller));
        const attempts = proxy.acceptedConnections;
        // 100 ms doubling to 2 s, at most a pool's worth at a time: a dozen or two, never one per call.
        expect(attempts, `${attempts} connection attempts for ${calls} calls`).toBeLessThanOrEqual(30);
        await proxy.heal();
        await expectServes(db);
      },
      TEST_TIMEOUT,
    );
  });

  describe("close", () => {
    it(
      "resolves only once every socket is closed, and a server-side termination right after it throws nothing",
      async () => {
        const uncaught: unknown[] = [];
        const onUncaught = (error: unknown) => uncaught.push(error);
        process.on("uncaughtException", onUncaught);
        try {
          for (let round = 0; round < 5; round += 1) {
            const { db, sockets } = open();
            await warm(db);
            const threads = (await admin(
              `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '${scratch.name}'`,
            )) as Array<{ id: number }>;
            const closing = db.close();
            // The server ends the sessions while close() is under way.
            await Promise.all(threads.map(({ id }) => admin(`KILL ${Number(id)}`).catch(() => undefined)));
            proxy.cutAll("reset");
            await expectSettlesWithin(closing, CALL_BOUND, "close()");
            expect(sockets.length).toBeGreaterThan(0);
            expect(sockets.every((socket) => socket.closed)).toBe(true);
          }
          await sleep(200);
          expect(uncaught).toEqual([]);
        } finally {
          process.off("uncaughtException", onUncaught);
        }
      },
      TEST_TIMEOUT,
    );

    it(
      "resolves within its bound on a silent network, with every socket closed",
      async () => {
        const { db, sockets } = open();
        await warm(db);
        await proxy.set("silent");
        await expectSettlesWithin(db.close(), CALL_BOUND, "close() on a silent network");
        expect(sockets.every((socket) => socket.closed)).toBe(true);
      },
      TEST_TIMEOUT,
    );
  });

  describe("session state", () => {
    it(
      "what a transaction sets on its session (variables, time zone, temporary tables, role) does not reach the next caller",
      async () => {
        const { db } = open({ poolSize: 1 });
        const role = `fault_role_${scratch.name.slice(-8)}`;
        await admin(`CREATE ROLE \`${role}\``);
        try {
          await admin(`GRANT \`${role}\` TO CURRENT_USER`);
          const before = await db.queryOne(sql`SELECT CONNECTION_ID() AS id`);
          await db.transaction(async (tx) => {
            await tx.execute(sql`SET @leak = 42`);
            await tx.execute(sql`SET SESSION time_zone = '+05:00'`);
            await tx.execute(sql`SET SESSION sql_mode = 'ANSI_QUOTES'`);
            await tx.execute(sql`CREATE TEMPORARY TABLE leak (id INTEGER)`);
            await tx.execute(sql.unsafe(`SET ROLE \`${role}\``));
          });
          const after = await db.queryOne<Record<string, unknown>>(
            sql`SELECT CONNECTION_ID() AS id, @leak AS leak, @@session.time_zone AS tz, CURRENT_ROLE() AS role, @@session.sql_mode LIKE '%ANSI_QUOTES%' AS ansi`,
          );
          // The same connection, so the state was reset rather than the connection replaced.
          expect(after?.id).toEqual(before?.id);
          expect(after).toMatchObject({ leak: null, tz: "+00:00", role: null, ansi: 0 });
          await expect(db.query(sql`SELECT * FROM leak`)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
        } finally {
          await admin(`DROP ROLE IF EXISTS \`${role}\``);
        }
      },
      TEST_TIMEOUT,
    );
  });
});
