import { sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { createItems, deferred, itemIds, range, type SqlContractContext } from "./context.js";

export function lifecycleTests({ db, harness }: SqlContractContext): void {
  describe("pool", () => {
    it("when every connection is busy, a call waits for one and then runs", async () => {
      await createItems(db(), [1]);
      const release = deferred();
      const holders = range(harness.poolSize).map(() =>
        db().transaction(async (tx) => {
          await tx.query(sql`SELECT id FROM items`);
          await release.promise;
        }),
      );
      const waiting = db().query(sql`SELECT id FROM items`);
      setTimeout(() => release.resolve(), Math.min(200, harness.acquireTimeoutMs / 4));
      expect(await waiting).toEqual([{ id: 1 }]);
      await Promise.all(holders);
    });

    it("when no connection frees up within the acquire timeout, a call rejects with TIMEOUT", async () => {
      await createItems(db(), [1]);
      const release = deferred();
      const acquired = range(harness.poolSize).map(() => deferred());
      const holders = acquired.map((ready) =>
        db().transaction(async (tx) => {
          await tx.query(sql`SELECT id FROM items`);
          ready.resolve();
          await release.promise;
        }),
      );
      await Promise.all(acquired.map((ready) => ready.promise));
      const error = await expectErrorCode(db().query(sql`SELECT id FROM items`), "TIMEOUT");
      expect(error.retryable).toBe(true);
      release.resolve();
      await Promise.all(holders);
      expect(await db().query(sql`SELECT id FROM items`)).toEqual([{ id: 1 }]);
    });
  });

  describe("lost and refused connections", () => {
    it.skipIf(harness.terminateConnections === undefined)(
      "replaces connections the server dropped: the next calls succeed",
      async () => {
        await createItems(db(), [1]);
        await Promise.all(range(harness.poolSize).map(() => db().query(sql`SELECT id FROM items`)));
        await harness.terminateConnections!(db());
        // The pool learns of the dropped sockets from the server's goodbye, which takes a moment.
        await sleep(300);
        const rows = await Promise.all(
          range(harness.poolSize * 2).map(() => db().query(sql`SELECT id FROM items`)),
        );
        expect(rows.flat()).toHaveLength(harness.poolSize * 2);
      },
    );

    it.skipIf(harness.createUnreachable === undefined)(
      "a refused connection is UNAVAILABLE for ping and for statements",
      async () => {
        const unreachable = harness.createUnreachable!();
        try {
          const error = await expectErrorCode(unreachable.ping(), "UNAVAILABLE");
          expect(error.retryable).toBe(true);
          expect(error.cause).toBeDefined();
          await expectErrorCode(unreachable.query(sql`SELECT 1`), "UNAVAILABLE");
        } finally {
          await unreachable.close();
        }
        await expectErrorCode(() => unreachable.ping(), "CLOSED");
      },
    );
  });

  describe("ping and close", () => {
    it("ping resolves while the database answers", async () => {
      await expect(db().ping()).resolves.toBeUndefined();
    });

    it("ping with an aborted signal is CANCELLED", async () => {
      await expectErrorCode(db().ping({ signal: AbortSignal.abort() }), "CANCELLED");
    });

    it("close is idempotent, and every call after it is CLOSED", async () => {
      const database = db();
      await createItems(database, [1]);
      await database.close();
      await expect(database.close()).resolves.toBeUndefined();
      await expectErrorCode(() => database.ping(), "CLOSED");
      await expectErrorCode(() => database.query(sql`SELECT id FROM items`), "CLOSED");
      await expectErrorCode(() => database.queryOne(sql`SELECT id FROM items`), "CLOSED");
      await expectErrorCode(() => database.execute(sql`DELETE FROM items`), "CLOSED");
      await expectErrorCode(() => database.insertMany("items", ["id", "label"], [[2, "x"]]), "CLOSED");
      await expectErrorCode(() => database.transaction(async () => undefined), "CLOSED");
      await expectErrorCode(async () => {
        for await (const _row of database.stream(sql`SELECT id FROM items`)) {
          // unreachable: the database is closed
        }
      }, "CLOSED");
    });

    it("close lets a running transaction finish its work, resolves only after it, and calls after close are CLOSED", async () => {
      const database = db();
      await createItems(database, [1]);
      const inside = deferred();
      const proceed = deferred();
      const order: string[] = [];
      const work = database.transaction(async (tx) => {
        inside.resolve();
        await proceed.promise;
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${2}, ${"during close"})`);
        const ids = await itemIds(tx);
        order.push("work done");
        return ids;
      });
      await inside.promise;
      const closing = database.close().then(() => order.push("closed"));
      await expectErrorCode(() => database.ping(), "CLOSED");
      proceed.resolve();
      expect(await work).toEqual([1, 2]);
      await closing;
      expect(order).toEqual(["work done", "closed"]);
      await expectErrorCode(() => database.query(sql`SELECT id FROM items`), "CLOSED");
    });

    it("Symbol.asyncDispose closes the database", async () => {
      const database = db();
      {
        await using disposable = database;
        await disposable.ping();
      }
      await expectErrorCode(() => database.ping(), "CLOSED");
    });
  });
}
