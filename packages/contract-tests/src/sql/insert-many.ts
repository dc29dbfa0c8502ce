import { sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import {
  countRows,
  createItems,
  currentNamespace,
  itemIds,
  range,
  type SqlContractContext,
} from "./context.js";

const AT = new Date("2023-01-02T03:04:05.000Z");

export function insertManyTests({ db }: SqlContractContext): void {
  describe("insertMany", () => {
    it("inserts every row from an array and returns the count", async () => {
      await createItems(db());
      const inserted = await db().insertMany(
        "items",
        ["id", "label"],
        range(1_000).map((id) => [id, `item ${id}`]),
        { batchSize: 128 },
      );
      expect(inserted).toBe(1_000);
      expect(await countRows(db(), "items")).toBe(1_000);
      expect(await db().queryOne(sql`SELECT label FROM items WHERE id = ${777}`)).toEqual({
        label: "item 777",
      });
    });

    it("consumes an async iterable lazily, pulling rows as it writes them", async () => {
      await createItems(db());
      let produced = 0;
      async function* rows() {
        for (const id of range(600)) {
          produced += 1;
          if (id % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
          yield [id, `async ${id}`] as const;
        }
      }
      const source = rows();
      expect(produced).toBe(0);
      expect(await db().insertMany("items", ["id", "label"], source, { batchSize: 50 })).toBe(600);
      expect(produced).toBe(600);
      expect(await itemIds(db())).toEqual(range(600));
    });

    it("pulls rows as it writes them: an abort midway leaves most of a long source unread", async () => {
      await createItems(db());
      const total = 100_000;
      const batchSize = 50;
      const controller = new AbortController();
      let pulled = 0;
      async function* rows() {
        for (const id of range(total)) {
          pulled += 1;
          if (pulled === batchSize * 3) controller.abort();
          // A real source (a file, a socket) gives the event loop a turn now and then.
          if (id % batchSize === 0) await new Promise((resolve) => setImmediate(resolve));
          yield [id, `lazy ${id}`] as const;
        }
      }
      await expectErrorCode(
        db().insertMany("items", ["id", "label"], rows(), { batchSize, signal: controller.signal }),
        "CANCELLED",
      );
      // Bounded read-ahead, not all of it: an implementation that collects the source first reads 100,000.
      expect(pulled).toBeLessThan(total / 10);
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("returns 0 and writes nothing for no rows", async () => {
      await createItems(db());
      expect(await db().insertMany("items", ["id", "label"], [])).toBe(0);
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("round-trips nulls, booleans, dates, big numbers and awkward text", async () => {
      await db().execute(
        sql`CREATE TABLE mixed (id INTEGER PRIMARY KEY, flag BOOLEAN NULL, big BIGINT NULL,
            amount DECIMAL(10, 2) NULL, at TIMESTAMP NULL, body TEXT NULL)`,
      );
      const awkward = "tab\there\nnew line\\back slash \"quoted\" 'single' ,comma ünï 🐘";
      await db().insertMany(
        "mixed",
        ["id", "flag", "big", "amount", "at", "body"],
        [
          [1, true, "9223372036854775807", "12.34", AT, awkward],
          [2, false, -1, 0.5, null, ""],
          [3, null, null, null, null, null],
          [4, true, "0", "-99999999.99", AT, "\\N"],
        ],
      );
      const rows = await db().query(sql`SELECT * FROM mixed ORDER BY id`);
      expect(rows).toEqual([
        { id: 1, flag: true, big: "9223372036854775807", amount: "12.34", at: AT, body: awkward },
        { id: 2, flag: false, big: "-1", amount: "0.50", at: null, body: "" },
        { id: 3, flag: null, big: null, amount: null, at: null, body: null },
        { id: 4, flag: true, big: "0", amount: "-99999999.99", at: AT, body: "\\N" },
      ]);
    });

    it("is atomic: a bad row in a later batch leaves no row of the call behind", async () => {
      await createItems(db(), [250]);
      const rows = range(400).map((id) => [id === 250 ? 250 : id + 1_000, `row ${id}`]);
      const error = await expectErrorCode(
        db().insertMany("items", ["id", "label"], rows, { batchSize: 50 }),
        "CONFLICT",
      );
      expect(error.details.sqlState).toEqual(expect.any(String));
      expect(await itemIds(db())).toEqual([250]);
    });

    it("is atomic when the async source throws midway", async () => {
      await createItems(db());
      const failure = new Error("source failed");
      async function* rows() {
        for (const id of range(300)) {
          if (id === 220) throw failure;
          yield [id, `row ${id}`];
        }
      }
      await expect(db().insertMany("items", ["id", "label"], rows(), { batchSize: 50 })).rejects.toBe(
        failure,
      );
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("runs in the current transaction: rolling it back removes the rows", async () => {
      await createItems(db());
      await expect(
        db().transaction(async (tx) => {
          expect(
            await tx.insertMany(
              "items",
              ["id", "label"],
              [
                [1, "a"],
                [2, "b"],
              ],
            ),
          ).toBe(2);
          expect(await countRows(tx, "items")).toBe(2);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("a failed insertMany inside a transaction leaves the transaction's earlier work usable", async () => {
      await createItems(db(), [5]);
      await db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"before"})`);
        await expectErrorCode(
          tx.insertMany(
            "items",
            ["id", "label"],
            [
              [2, "ok"],
              [5, "duplicate"],
            ],
          ),
          "CONFLICT",
        );
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${3}, ${"after"})`);
      });
      expect(await itemIds(db())).toEqual([1, 3, 5]);
    });

    it("accepts a [namespace, table] pair and quotes the names", async () => {
      await db().execute(sql`CREATE TABLE ${sql.id("Odd Table")} (${sql.id("Odd Column")} INTEGER)`);
      const namespace = await currentNamespace(db());
      expect(await db().insertMany([namespace, "Odd Table"], ["Odd Column"], [[1], [2]])).toBe(2);
      expect(await countRows(db(), "Odd Table")).toBe(2);
    });

    it("rejects an unknown table with INVALID_ARGUMENT", async () => {
      await expectErrorCode(db().insertMany("no_such_table", ["id"], [[1]]), "INVALID_ARGUMENT");
    });

    it("under row-level security: rows the policy allows go in, a refused row is PERMISSION_DENIED", async (context) => {
      if (db().dialect.name !== "postgres") context.skip("row-level security is PostgreSQL's");
      await createItems(db());
      const role = `rls_${Math.random().toString(36).slice(2, 10)}`;
      const rolledBack = new Error("roll back the role and the policy");
      const namespace = await currentNamespace(db());
      // All in one transaction (roles are transactional too), rolled back at the end: nothing stays.
      const outcome = db().transaction(async (tx) => {
        await tx.execute(sql`CREATE ROLE ${sql.id(role)} NOLOGIN`);
        await tx.execute(sql`GRANT USAGE ON SCHEMA ${sql.id(namespace)} TO ${sql.id(role)}`);
        await tx.execute(sql`GRANT SELECT, INSERT ON items TO ${sql.id(role)}`);
        await tx.execute(sql`ALTER TABLE items ENABLE ROW LEVEL SECURITY`);
        await tx.execute(sql`CREATE POLICY small_ids ON items USING (id < 100) WITH CHECK (id < 100)`);
        await tx.execute(sql`SET LOCAL ROLE ${sql.id(role)}`);
        expect(
          await tx.insertMany(
            "items",
            ["id", "label"],
            [
              [1, "a"],
              [2, "b"],
            ],
          ),
        ).toBe(2);
        const refused = await expectErrorCode(
          tx.insertMany(
            "items",
            ["id", "label"],
            [
              [3, "c"],
              [500, "outside the policy"],
            ],
          ),
          "PERMISSION_DENIED",
        );
        expect(refused.retryable).toBe(false);
        expect(await itemIds(tx)).toEqual([1, 2]);
        throw rolledBack;
      });
      await expect(outcome).rejects.toBe(rolledBack);
    });

    it("stops with CANCELLED when the signal has fired, inserting nothing", async () => {
      await createItems(db());
      await expectErrorCode(
        db().insertMany("items", ["id", "label"], [[1, "a"]], { signal: AbortSignal.abort() }),
        "CANCELLED",
      );
      expect(await countRows(db(), "items")).toBe(0);
    });
  });
}
