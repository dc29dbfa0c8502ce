import { type SqlDatabase, sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { createItems, range, type SqlContractContext } from "./context.js";

const MANY = 2_500;

async function fillItems(db: SqlDatabase, count: number): Promise<void> {
  await createItems(db);
  await db.insertMany(
    "items",
    ["id", "label"],
    range(count).map((id) => [id, `item ${id}`]),
  );
}

/**
 * Rows in table order; the first row with `id >= failFrom` fails (a scalar subquery returning
 * several rows, an error on every engine), so only a consumer that reads that far meets it. No
 * ORDER BY: a sort would compute every row before the first is sent.
 */
function laterRowFails(failFrom: number) {
  return sql`SELECT i.id, CASE WHEN i.id < ${failFrom} THEN i.label
    ELSE (SELECT t.label FROM items t WHERE t.id <> i.id) END AS label FROM items i`;
}

export function streamingTests({ db, harness }: SqlContractContext): void {
  /** More queries at once than the pool holds: they all finish only if no connection leaked. */
  async function expectAllConnectionsFree(): Promise<void> {
    const rows = await Promise.all(
      range(harness.poolSize * 2 + 1).map((id) => db().queryOne(sql`SELECT id FROM items WHERE id = ${id}`)),
    );
    expect(rows.every((row) => row !== undefined)).toBe(true);
  }

  describe("stream", () => {
    it("yields every row in order, fetched in batches", async () => {
      await fillItems(db(), MANY);
      let expected = 1;
      for await (const row of db().stream<{ id: number; label: string }>(
        sql`SELECT id, label FROM items ORDER BY id`,
        { batchSize: 97 },
      )) {
        expect(row).toEqual({ id: expected, label: `item ${expected}` });
        expected += 1;
      }
      expect(expected - 1).toBe(MANY);
    });

    it("fetches lazily: a loop that stops early never meets an error only a later row raises", async () => {
      await fillItems(db(), MANY);
      for (let round = 0; round < harness.poolSize + 2; round += 1) {
        const seen: number[] = [];
        for await (const row of db().stream<{ id: number }>(laterRowFails(1_000), { batchSize: 10 })) {
          seen.push(Number(row.id));
          if (seen.length === 5) break;
        }
        expect(seen).toHaveLength(5);
      }
      await expectAllConnectionsFree();
    });

    it("yields the rows before a failing row, then reports its error as INVALID_ARGUMENT", async () => {
      await fillItems(db(), MANY);
      let seen = 0;
      const consume = async () => {
        for await (const _row of db().stream(laterRowFails(1_000), { batchSize: 10 })) seen += 1;
      };
      await expectErrorCode(consume(), "INVALID_ARGUMENT");
      // Rows come a batch at a time; an implementation that runs the whole query first yields none.
      expect(seen).toBeGreaterThanOrEqual(10);
      expect(seen).toBeLessThan(1_000);
      await expectAllConnectionsFree();
    });

    it("yields nothing for an empty result", async () => {
      await createItems(db());
      const rows: unknown[] = [];
      for await (const row of db().stream(sql`SELECT id FROM items`)) rows.push(row);
      expect(rows).toEqual([]);
    });

    it("binds parameters", async () => {
      await fillItems(db(), 50);
      const ids: number[] = [];
      for await (const row of db().stream<{ id: number }>(
        sql`SELECT id FROM items WHERE id > ${45} ORDER BY id`,
      )) {
        ids.push(row.id);
      }
      expect(ids).toEqual([46, 47, 48, 49, 50]);
    });

    it("releases the connection when the loop breaks early, every time", async () => {
      await fillItems(db(), MANY);
      for (let round = 0; round < harness.poolSize + 2; round += 1) {
        for await (const row of db().stream<{ id: number }>(sql`SELECT id FROM items ORDER BY id`, {
          batchSize: 10,
        })) {
          expect(row.id).toBe(1);
          break;
        }
      }
      await expectAllConnectionsFree();
    });

    it("releases the connection when the loop body throws, and the error comes through", async () => {
      await fillItems(db(), 100);
      for (let round = 0; round < harness.poolSize + 2; round += 1) {
        const failure = new Error("consumer failed");
        const consume = async () => {
          for await (const _row of db().stream(sql`SELECT id FROM items`, { batchSize: 10 })) throw failure;
        };
        await expect(consume()).rejects.toBe(failure);
      }
      await expectAllConnectionsFree();
    });

    it("stops with CANCELLED when the signal fires mid-stream, and releases the connection", async () => {
      await fillItems(db(), MANY);
      for (let round = 0; round < harness.poolSize + 2; round += 1) {
        const controller = new AbortController();
        let seen = 0;
        const consume = async () => {
          for await (const _row of db().stream(sql`SELECT id FROM items ORDER BY id`, {
            batchSize: 10,
            signal: controller.signal,
          })) {
            seen += 1;
            if (seen === 5) controller.abort();
          }
        };
        await expectErrorCode(consume(), "CANCELLED");
        expect(seen).toBeLessThan(MANY);
      }
      await expectAllConnectionsFree();
    });

    it("reports a bad statement as INVALID_ARGUMENT when iterated, and releases the connection", async () => {
      await fillItems(db(), 10);
      for (let round = 0; round < harness.poolSize + 2; round += 1) {
        const consume = async () => {
          for await (const _row of db().stream(sql`SELECT id FROM no_such_table`)) {
            // unreachable: the statement fails before the first row
          }
        };
        await expectErrorCode(consume(), "INVALID_ARGUMENT");
      }
      await expectAllConnectionsFree();
    });

    it("streams inside a transaction, seeing its uncommitted rows", async () => {
      await createItems(db());
      const ids = await db().transaction(async (tx) => {
        await tx.insertMany(
          "items",
          ["id", "label"],
          range(30).map((id) => [id, "in tx"]),
        );
        const seen: number[] = [];
        for await (const row of tx.stream<{ id: number }>(sql`SELECT id FROM items ORDER BY id`, {
          batchSize: 7,
        })) {
          seen.push(row.id);
        }
        return seen;
      });
      expect(ids).toEqual(range(30));
    });

    it("a transaction stays usable after a stream inside it breaks early", async () => {
      await fillItems(db(), 100);
      const count = await db().transaction(async (tx) => {
        for await (const _row of tx.stream(sql`SELECT id FROM items`, { batchSize: 10 })) break;
        const row = await tx.queryOne<{ n: unknown }>(sql`SELECT COUNT(*) AS n FROM items`);
        return Number(row?.n);
      });
      expect(count).toBe(100);
    });
  });
}
