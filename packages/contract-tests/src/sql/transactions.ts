import { isInfrastructureError, type SqlIsolationLevel, type SqlTransaction, sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import {
  countRows,
  createItems,
  deferred,
  itemIds,
  range,
  reportedIsolationLevel,
  type SqlContractContext,
} from "./context.js";

const ISOLATION_LEVELS: readonly SqlIsolationLevel[] = ["read committed", "repeatable read", "serializable"];

export function transactionTests({ db, harness }: SqlContractContext): void {
  describe("transactions", () => {
    it("commits when the work resolves, and returns its value", async () => {
      await createItems(db());
      const result = await db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"one"})`);
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"two"})`);
        return "done";
      });
      expect(result).toBe("done");
      expect(await itemIds(db())).toEqual([1, 2]);
    });

    it("sees its own uncommitted writes, which others do not see before commit", async (context) => {
      if (harness.poolSize < 2) context.skip("needs a second connection to look from outside");
      await createItems(db());
      await db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"one"})`);
        expect(await itemIds(tx)).toEqual([1]);
        expect(await itemIds(db())).toEqual([]);
      });
      expect(await itemIds(db())).toEqual([1]);
    });

    it("rolls back when the work throws, and rethrows the same error", async () => {
      await createItems(db(), [1]);
      const failure = new Error("work failed");
      const outcome = db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"two"})`);
        await tx.execute(sql`UPDATE items SET label = ${"changed"} WHERE id = ${1}`);
        throw failure;
      });
      await expect(outcome).rejects.toBe(failure);
      expect(await db().query(sql`SELECT id, label FROM items`)).toEqual([{ id: 1, label: "item 1" }]);
    });

    it("rolls back after a failed statement inside the work, and reports that statement's error", async () => {
      await createItems(db(), [1]);
      const outcome = db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"two"})`);
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"duplicate"})`);
      });
      await expectErrorCode(outcome, "CONFLICT");
      expect(await itemIds(db())).toEqual([1]);
    });

    it("rolls back with CANCELLED when the signal fires during the work", async () => {
      await createItems(db());
      const controller = new AbortController();
      const outcome = db().transaction(
        async (tx) => {
          await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"one"})`);
          controller.abort();
          await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"two"})`);
        },
        { signal: controller.signal },
      );
      await expectErrorCode(outcome, "CANCELLED");
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("does not start the work when the signal has already fired", async () => {
      await createItems(db());
      let started = false;
      const outcome = db().transaction(
        async () => {
          started = true;
        },
        { signal: AbortSignal.abort() },
      );
      await expectErrorCode(outcome, "CANCELLED");
      expect(started).toBe(false);
    });

    it.each(ISOLATION_LEVELS)(
      "runs at isolation level %s: the server reports that level inside, and it commits",
      async (isolationLevel) => {
        await createItems(db(), [1]);
        const reported = await db().transaction(
          async (tx) => {
            await itemIds(tx);
            await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${isolationLevel})`);
            return reportedIsolationLevel(tx);
          },
          { isolationLevel },
        );
        expect(reported).toBe(isolationLevel);
        expect(await db().query(sql`SELECT label FROM items WHERE id = ${2}`)).toEqual([
          { label: isolationLevel },
        ]);
      },
    );

    it.for([
      ["read committed", "sees", "changed"],
      ["repeatable read", "does not see", "item 1"],
    ] as const)(
      "at %s, a transaction %s a row another connection changed and committed after its first read",
      async ([isolationLevel, _sees, expected], context) => {
        if (harness.poolSize < 2) context.skip("needs a second connection to change the row from outside");
        await createItems(db(), [1]);
        const secondRead = await db().transaction(
          async (tx) => {
            const label = sql`SELECT label FROM items WHERE id = ${1}`;
            expect(await tx.queryOne(label)).toEqual({ label: "item 1" });
            await db().execute(sql`UPDATE items SET label = ${"changed"} WHERE id = ${1}`);
            return tx.queryOne(label);
          },
          { isolationLevel },
        );
        expect(secondRead).toEqual({ label: expected });
      },
    );

    it("a read-only transaction reads but refuses a write with INVALID_ARGUMENT (SQLSTATE 25006), rolling back", async () => {
      await createItems(db(), [1]);
      const outcome = db().transaction(
        async (tx) => {
          expect(await itemIds(tx)).toEqual([1]);
          await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"two"})`);
        },
        { readOnly: true },
      );
      const error = await expectErrorCode(outcome, "INVALID_ARGUMENT");
      expect(error.details.sqlState).toBe("25006");
      expect(error.retryable).toBe(false);
      expect(await itemIds(db())).toEqual([1]);
    });

    it("runs concurrent statements on one transaction", async () => {
      await createItems(db(), [1, 2, 3, 4]);
      const labels = await db().transaction((tx) =>
        Promise.all(
          [1, 2, 3, 4].map((id) =>
            tx.queryOne<{ label: string }>(sql`SELECT label FROM items WHERE id = ${id}`),
          ),
        ),
      );
      expect(labels.map((row) => row?.label)).toEqual(["item 1", "item 2", "item 3", "item 4"]);
    });

    it("exposes the database's dialect on the transaction", async () => {
      const dialect = await db().transaction(async (tx) => tx.dialect);
      expect(dialect.name).toBe(db().dialect.name);
    });

    it("returns the connection after each rollback: more failed transactions than the pool holds", async () => {
      await createItems(db());
      for (const id of range(harness.poolSize + 2)) {
        const outcome = db().transaction(async (tx) => {
          await tx.execute(sql`INSERT INTO items (id, label) VALUES (${id}, ${"doomed"})`);
          throw new Error("boom");
        });
        await expect(outcome).rejects.toThrow("boom");
      }
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("a transaction used after its callback settled is CLOSED", async () => {
      await createItems(db());
      let leaked: SqlTransaction | undefined;
      await db().transaction(async (tx) => {
        leaked = tx;
      });
      await expectErrorCode(() => leaked!.query(sql`SELECT id FROM items`), "CLOSED");
      await expectErrorCode(() => leaked!.execute(sql`DELETE FROM items`), "CLOSED");
      await expectErrorCode(() => leaked!.transaction(async () => undefined), "CLOSED");
    });

    it("a transaction used after it rolled back is CLOSED", async () => {
      await createItems(db());
      let leaked: SqlTransaction | undefined;
      await expect(
        db().transaction(async (tx) => {
          leaked = tx;
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      await expectErrorCode(() => leaked!.queryOne(sql`SELECT id FROM items`), "CLOSED");
    });
  });

  describe("nested transactions (savepoints)", () => {
    it("an inner failure rolls back only the inner work; the outer work commits", async () => {
      await createItems(db());
      await db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"outer"})`);
        await expect(
          tx.transaction(async (inner) => {
            await inner.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"inner"})`);
            throw new Error("inner failed");
          }),
        ).rejects.toThrow("inner failed");
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${3}, ${"outer again"})`);
      });
      expect(await itemIds(db())).toEqual([1, 3]);
    });

    it("an inner SQL error rolls back to the savepoint and the outer transaction stays usable", async () => {
      await createItems(db(), [1]);
      await db().transaction(async (tx) => {
        await expectErrorCode(
          tx.transaction(async (inner) => {
            await inner.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"inner"})`);
            await inner.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"duplicate"})`);
          }),
          "CONFLICT",
        );
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${3}, ${"after"})`);
      });
      expect(await itemIds(db())).toEqual([1, 3]);
    });

    it("inner work that committed is undone when the outer transaction rolls back", async () => {
      await createItems(db());
      await expect(
        db().transaction(async (tx) => {
          await tx.transaction(async (inner) => {
            await inner.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"inner"})`);
          });
          throw new Error("outer failed");
        }),
      ).rejects.toThrow("outer failed");
      expect(await countRows(db(), "items")).toBe(0);
    });

    it("nests three levels deep, each level rolling back on its own", async () => {
      await createItems(db());
      await db().transaction(async (level1) => {
        await level1.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"level 1"})`);
        await level1.transaction(async (level2) => {
          await level2.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"level 2"})`);
          await expect(
            level2.transaction(async (level3) => {
              await level3.execute(sql`INSERT INTO items (id, label) VALUES (${3}, ${"level 3"})`);
              throw new Error("level 3 failed");
            }),
          ).rejects.toThrow("level 3 failed");
        });
      });
      expect(await itemIds(db())).toEqual([1, 2]);
    });

    it("a savepoint transaction used after it settled is CLOSED while the outer one goes on", async () => {
      await createItems(db());
      await db().transaction(async (tx) => {
        let leaked: SqlTransaction | undefined;
        await tx.transaction(async (inner) => {
          leaked = inner;
        });
        await expectErrorCode(() => leaked!.query(sql`SELECT id FROM items`), "CLOSED");
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"outer"})`);
      });
      expect(await itemIds(db())).toEqual([1]);
    });
  });

  describe("concurrency conflicts", () => {
    it("reports a deadlock as CONFLICT with retryable: true, and the other transaction commits", async (context) => {
      if (harness.poolSize < 2) context.skip("needs two connections to deadlock");
      await createItems(db(), [1, 2]);
      const firstLocked = deferred();
      const secondLocked = deferred();
      const first = db().transaction(async (tx) => {
        await tx.execute(sql`UPDATE items SET label = ${"first"} WHERE id = ${1}`);
        firstLocked.resolve();
        await secondLocked.promise;
        await tx.execute(sql`UPDATE items SET label = ${"first"} WHERE id = ${2}`);
      });
      const second = db().transaction(async (tx) => {
        await firstLocked.promise;
        await tx.execute(sql`UPDATE items SET label = ${"second"} WHERE id = ${2}`);
        secondLocked.resolve();
        await tx.execute(sql`UPDATE items SET label = ${"second"} WHERE id = ${1}`);
      });
      const results = await Promise.allSettled([first, second]);
      const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
      expect(failures).toHaveLength(1);
      const [failure] = failures;
      expect(isInfrastructureError(failure, "CONFLICT"), String(failure)).toBe(true);
      expect(isInfrastructureError(failure) && failure.retryable).toBe(true);
      const labels = await db().query<{ label: string }>(sql`SELECT label FROM items ORDER BY id`);
      expect(new Set(labels.map((row) => row.label)).size).toBe(1);
    });
  });
}
