import type { DocumentDatabase } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";

export function transactionTests(db: () => DocumentDatabase): void {
  describe("transactions", () => {
    it("declares whether transactions are supported", () => {
      expect(typeof db().capabilities.transactions).toBe("boolean");
    });

    it("rejects transaction with NOT_SUPPORTED when the capability is absent", async (context) => {
      if (db().capabilities.transactions) context.skip();
      await expectErrorCode(
        db().transaction(async () => 1),
        "NOT_SUPPORTED",
      );
    });

    const supported = () => db().capabilities.transactions;

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
