import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { expectErrorCode, sleep } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { afterAll, describe, expect, it } from "vitest";
import { createPgliteDatabase } from "../src/index.js";
import { closeEngine, createTestDatabase, destroyTestDatabase, engine } from "./support.js";

afterAll(closeEngine);

/** Starting a PGlite engine takes seconds on a loaded machine. */
const ENGINE_START = 90_000;

describe("one session, shared in turn", () => {
  it(
    "two adapters on one instance never interleave: a rolled-back transaction keeps the other's write",
    async () => {
      const first = createTestDatabase();
      const second = createPgliteDatabase({ pglite: engine, schema: await schemaOf(first) });
      try {
        await first.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
        const rolledBack = first.transaction(async (tx) => {
          await tx.execute(sql`INSERT INTO items (id) VALUES (${1})`);
          await sleep(100);
          throw new Error("roll back");
        });
        const outside = second.execute(sql`INSERT INTO items (id) VALUES (${2})`);
        await expect(rolledBack).rejects.toThrow("roll back");
        await outside;
        expect(await first.query(sql`SELECT id FROM items`)).toEqual([{ id: 2 }]);
      } finally {
        await second.close();
        await destroyTestDatabase(first);
      }
    },
    ENGINE_START,
  );

  it("a call aborted while waiting for the session never runs", async () => {
    const db = createTestDatabase();
    try {
      await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
      const controller = new AbortController();
      let queued: Promise<unknown> | undefined;
      await db.transaction(async () => {
        queued = db.execute(sql`INSERT INTO items (id) VALUES (${1})`, { signal: controller.signal });
        await sleep(20);
        controller.abort();
        await expectErrorCode(queued, "CANCELLED");
      });
      expect(await db.query(sql`SELECT id FROM items`)).toEqual([]);
    } finally {
      await destroyTestDatabase(db);
    }
  });

  it("timeoutMs bounds the wait for the session: TIMEOUT, and the statement never runs", async () => {
    const db = createTestDatabase();
    try {
      await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
      await db.transaction(async () => {
        await expectErrorCode(
          db.execute(sql`INSERT INTO items (id) VALUES (${1})`, { timeoutMs: 50 }),
          "TIMEOUT",
        );
      });
      expect(await db.query(sql`SELECT id FROM items`)).toEqual([]);
    } finally {
      await destroyTestDatabase(db);
    }
  });

  it("a stream inside a transaction interleaves with the transaction's other statements", async () => {
    const db = createTestDatabase();
    try {
      const seen = await db.transaction(async (tx) => {
        await tx.execute(sql`CREATE TABLE log (n INTEGER)`);
        const numbers: number[] = [];
        for await (const row of tx.stream<{ n: number }>(sql`SELECT generate_series(1, 5) AS n`, {
          batchSize: 2,
        })) {
          await tx.execute(sql`INSERT INTO log (n) VALUES (${row.n})`);
          numbers.push(row.n);
        }
        return numbers;
      });
      expect(seen).toEqual([1, 2, 3, 4, 5]);
      expect((await db.query(sql`SELECT n FROM log ORDER BY n`)).length).toBe(5);
    } finally {
      await destroyTestDatabase(db);
    }
  });

  it("a COMMIT that PostgreSQL turns into ROLLBACK (an error was caught inside) is an error, not success", async () => {
    const db = createTestDatabase();
    try {
      await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
      const outcome = db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id) VALUES (${1})`);
        await tx.execute(sql`INSERT INTO items (id) VALUES (${1})`).catch(() => undefined);
      });
      await expectErrorCode(outcome, "INVALID_ARGUMENT");
      expect(await db.query(sql`SELECT id FROM items`)).toEqual([]);
    } finally {
      await destroyTestDatabase(db);
    }
  });
});

describe("close", () => {
  it("waits for the transaction holding the session, however long it takes, then refuses calls", async () => {
    const db = createTestDatabase();
    const schema = await schemaOf(db);
    const reader = createPgliteDatabase({ pglite: engine, schema });
    try {
      await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
      const work = db.transaction(async (tx) => {
        await sleep(200);
        await tx.execute(sql`INSERT INTO items (id) VALUES (${1})`);
      });
      await sleep(20);
      await db.close();
      await work;
      await expectErrorCode(() => db.ping(), "CLOSED");
      expect(await reader.query(sql`SELECT id FROM items`)).toEqual([{ id: 1 }]);
    } finally {
      await reader.close();
      await destroyTestDatabase(db);
    }
  });
});

describe("types and options", () => {
  it("int8 comes back as a string by default, as bigint or number on request", async () => {
    const query = sql`SELECT 9007199254740993::int8 AS big, 5::int8 AS small`;
    const asString = createTestDatabase();
    const asBigint = createTestDatabase({ int8: "bigint" });
    const asNumber = createTestDatabase({ int8: "number" });
    try {
      expect(await asString.queryOne(query)).toEqual({ big: "9007199254740993", small: "5" });
      expect(await asBigint.queryOne(query)).toEqual({ big: 9007199254740993n, small: 5n });
      expect(await asNumber.queryOne(sql`SELECT 5::int8 AS small`)).toEqual({ small: 5 });
    } finally {
      await Promise.all([asString, asBigint, asNumber].map(destroyTestDatabase));
    }
  });

  it("creates its schema when missing and puts it first on the search path", async () => {
    const db = createTestDatabase();
    try {
      const row = await db.queryOne<{ s: string }>(sql`SELECT current_schema() AS s`);
      expect(row?.s).toBe(await schemaOf(db));
    } finally {
      await destroyTestDatabase(db);
    }
  });

  it(
    "keeps data in a folder across close and reopen",
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "pglite-"));
      try {
        const first = createPgliteDatabase({ dataDir });
        await first.execute(sql`CREATE TABLE kept (id INTEGER)`);
        await first.insertMany("kept", ["id"], [[1], [2]]);
        await first.close();
        expect(first.pglite.closed).toBe(true);
        const second = createPgliteDatabase({ dataDir });
        try {
          expect(await second.query(sql`SELECT id FROM kept ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
        } finally {
          await second.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    ENGINE_START,
  );

  it(
    "leaves a caller's instance open on close",
    async () => {
      const instance = new PGlite("memory://");
      try {
        const db = createPgliteDatabase({ pglite: instance });
        await db.ping();
        await db.close();
        await expectErrorCode(db.ping(), "CLOSED");
        expect((await instance.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      } finally {
        await instance.close();
      }
    },
    ENGINE_START,
  );
});

async function schemaOf(db: SqlDatabase): Promise<string> {
  const row = await db.queryOne<{ s: string }>(sql`SELECT current_schema() AS s`);
  return row?.s ?? "";
}
