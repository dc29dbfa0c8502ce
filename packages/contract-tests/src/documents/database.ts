import { type DocumentDatabase, isInfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { DocumentServerGaps } from "./index.js";

export function databaseTests(db: () => DocumentDatabase, gaps: DocumentServerGaps): void {
  describe("database", () => {
    it("accepts collection names of letters, digits, _, - and . up to 120 characters", async () => {
      for (const name of ["a", "Orders_2024", "with-dash", "dotted.name", "x".repeat(120)]) {
        const collection = db().collection(name);
        expect(collection.name).toBe(name);
        await collection.insertOne({ id: "1" });
        expect(await collection.count()).toBe(1);
      }
    });

    it("rejects other collection names with INVALID_ARGUMENT", async () => {
      for (const name of [
        "",
        "x".repeat(121),
        "has space",
        "a$b",
        "a/b",
        "nul\u0000",
        "system.users",
        "ünï",
      ]) {
        await expectErrorCode(async () => db().collection(name).count(), "INVALID_ARGUMENT");
      }
    });

    it("keeps collections apart", async () => {
      await db().collection("left").insertOne({ id: "same", side: "left" });
      await db().collection("right").insertOne({ id: "same", side: "right" });
      expect(await db().collection("left").findById("same")).toEqual({ id: "same", side: "left" });
      expect(await db().collection("right").count()).toBe(1);
    });

    it.skipIf(gaps.dropCollection !== undefined)(
      "dropCollection removes the documents and indexes; a missing collection is not an error",
      async () => {
        const users = db().collection("users");
        await users.ensureIndex({ fields: ["email"], unique: true });
        await users.insertMany([
          { id: "1", email: "a" },
          { id: "2", email: "b" },
        ]);
        await db().dropCollection("users");
        expect(await users.count()).toBe(0);
        await users.insertMany([
          { id: "1", email: "a" },
          { id: "2", email: "a" },
        ]);
        expect(await users.count()).toBe(2);
        await db().dropCollection("never-existed");
      },
    );

    it("ping resolves while the database is open", async () => {
      await expect(db().ping()).resolves.toBeUndefined();
    });

    it("rejects an operation whose signal has fired with CANCELLED, or TIMEOUT for a timeout signal", async () => {
      const items = db().collection("items");
      const controller = new AbortController();
      controller.abort();
      await expectErrorCode(items.insertOne({ id: "x" }, { signal: controller.signal }), "CANCELLED");
      await expectErrorCode(items.find({}, { signal: controller.signal }), "CANCELLED");
      await expectErrorCode(items.count({}, { signal: controller.signal }), "CANCELLED");
      const timedOut = AbortSignal.timeout(0);
      // Waits for the signal itself: a fixed sleep may end first when the event loop lags.
      if (!timedOut.aborted)
        await new Promise((resolve) => timedOut.addEventListener("abort", resolve, { once: true }));
      await expectErrorCode(items.findById("x", { signal: timedOut }), "TIMEOUT");
      expect(await items.findById("x")).toBeUndefined();
    });

    it("close is idempotent and later operations fail with CLOSED", async () => {
      const database = db();
      const items = database.collection("items");
      await items.insertOne({ id: "x" });
      await database.close();
      await database.close();
      await expectErrorCode(items.findById("x"), "CLOSED");
      await expectErrorCode(items.insertOne({ id: "y" }), "CLOSED");
      await expectErrorCode(database.ping(), "CLOSED");
      await expectErrorCode(async () => database.collection("other").count(), "CLOSED");
    });

    it("Symbol.asyncDispose closes the database", async () => {
      const database = db();
      await database[Symbol.asyncDispose]();
      const error = await database.ping().catch((caught: unknown) => caught);
      expect(isInfrastructureError(error, "CLOSED")).toBe(true);
    });
  });
}
