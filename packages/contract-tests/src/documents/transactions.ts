import type { DocumentCollection, DocumentDatabase } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";

/**
 * The declared capability is cross-checked both ways: an adapter declaring none must refuse without
 * running the work, one declaring transactions must run the work once, commit it whole, roll it back
 * whole and hide it until commit. With `expected` (from the harness) the declaration itself is pinned.
 */
export function transactionTests(db: () => DocumentDatabase, expected: boolean | undefined): void {
  describe("transactions", () => {
    it("declares a boolean transactions capability that stays the same", () => {
      const declared = db().capabilities.transactions;
      expect(typeof declared).toBe("boolean");
      expect(db().capabilities.transactions).toBe(declared);
    });

    it.skipIf(expected === undefined)(
      "declares the transactions capability the harness knows the backend has",
      () => {
        expect(db().capabilities.transactions).toBe(expected);
      },
    );

    it("without the capability, rejects with NOT_SUPPORTED before running the work, writing nothing", async (context) => {
      if (db().capabilities.transactions) context.skip();
      let runs = 0;
      await expectErrorCode(
        db().transaction(async (tx) => {
          runs++;
          await tx.collection("items").insertOne({ id: "x" });
        }),
        "NOT_SUPPORTED",
      );
      expect(runs).toBe(0);
      expect(await db().collection("items").count()).toBe(0);
    });

    const supported = () => db().capabilities.transactions;

    it("with the capability, runs the work exactly once and resolves with its result", async (context) => {
      if (!supported()) context.skip();
      let runs = 0;
      const result = await db().transaction(async () => {
        runs++;
        return { answer: 42 };
      });
      expect(runs).toBe(1);
      expect(result).toEqual({ answer: 42 });
    });

    it("rolls back inserts, updates and deletes in several collections together when the work throws", async (context) => {
      if (!supported()) context.skip();
      const accounts = db().collection("accounts");
      const ledger = db().collection("ledger");
      await accounts.insertMany([
        { id: "a", balance: 10 },
        { id: "b", balance: 5 },
      ]);
      await ledger.insertOne({ id: "t0", amount: 1 });
      const failure = new Error("late failure");
      const caught = await db()
        .transaction(async (tx) => {
          await tx
            .collection("accounts")
            .updateOne({ id: "a" }, { increment: { balance: -10 }, set: { closed: true } });
          await tx.collection("accounts").deleteOne({ id: "b" });
          await tx.collection("ledger").deleteMany({});
          await tx.collection("ledger").insertOne({ id: "t1", amount: 10 });
          await tx.collection("fresh").insertOne({ id: "f" });
          expect(await tx.collection("accounts").count()).toBe(1);
          throw failure;
        })
        .catch((error: unknown) => error);
      expect(caught).toBe(failure);
      expect(await accounts.find({})).toEqual({
        items: [
          { id: "a", balance: 10 },
          { id: "b", balance: 5 },
        ],
      });
      expect((await ledger.find({})).items).toEqual([{ id: "t0", amount: 1 }]);
      expect(await db().collection("fresh").count()).toBe(0);
    });

    it("refuses a collection handle of a finished transaction with CLOSED, writing nothing", async (context) => {
      if (!supported()) context.skip();
      let leaked: DocumentCollection | undefined;
      await db().transaction(async (tx) => {
        leaked = tx.collection("items");
        await leaked.insertOne({ id: "inside" });
      });
      await expectErrorCode(leaked!.insertOne({ id: "after" }), "CLOSED");
      expect(await db().collection("items").findById("after")).toBeUndefined();
      expect(await db().collection("items").count()).toBe(1);
    });

    it("commits every write of the work when it resolves, and returns its result", async (context) => {
      if (!supported()) context.skip();
      await db().collection("accounts").insertOne({ id: "a", balance: 10 });
      const result = await db().transaction(async (tx) => {
        await tx.collection("accounts").updateOne({ id: "a" }, { increment: { balance: -4 } });
        await tx.collection("accounts").insertOne({ id: "b", balance: 4 });
        await tx.collection("ledger").insertOne({ id: "t1", from: "a", to: "b", amount: 4 });
        return "done";
      });
      expect(result).toBe("done");
      expect(await db().collection("accounts").findById("a")).toEqual({ id: "a", balance: 6 });
      expect(await db().collection("accounts").findById("b")).toEqual({ id: "b", balance: 4 });
      expect(await db().collection("ledger").count()).toBe(1);
    });

    it("commits none of the writes when the work throws, and rethrows its error", async (context) => {
      if (!supported()) context.skip();
      await db().collection("accounts").insertOne({ id: "a", balance: 10 });
      const failure = new Error("work failed");
      const caught = await db()
        .transaction(async (tx) => {
          await tx.collection("accounts").updateOne({ id: "a" }, { increment: { balance: -4 } });
          await tx.collection("accounts").insertOne({ id: "b", balance: 4 });
          throw failure;
        })
        .catch((error: unknown) => error);
      expect(caught).toBe(failure);
      expect(await db().collection("accounts").findById("a")).toEqual({ id: "a", balance: 10 });
      expect(await db().collection("accounts").findById("b")).toBeUndefined();
    });

    it("sees its own writes inside the work, hidden from outside until commit", async (context) => {
      if (!supported()) context.skip();
      const outside = db().collection("items");
      await outside.insertOne({ id: "seed" });
      await db().transaction(async (tx) => {
        const inside = tx.collection("items");
        await inside.insertOne({ id: "new" });
        expect(await inside.findById("new")).toEqual({ id: "new" });
        expect(await inside.count()).toBe(2);
        expect(await outside.findById("new")).toBeUndefined();
      });
      expect(await outside.findById("new")).toEqual({ id: "new" });
    });

    it("rolls back the whole work when a write inside it conflicts", async (context) => {
      if (!supported()) context.skip();
      const items = db().collection("items");
      await items.insertOne({ id: "taken" });
      await expectErrorCode(
        db().transaction(async (tx) => {
          await tx.collection("items").insertOne({ id: "fresh" });
          await tx.collection("items").insertOne({ id: "taken" });
        }),
        "CONFLICT",
      );
      expect(await items.findById("fresh")).toBeUndefined();
      expect(await items.count()).toBe(1);
    });
  });
}
