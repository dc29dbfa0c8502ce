import type { DocumentDatabase } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { DocumentServerGaps } from "./index.js";

export function indexTests(db: () => DocumentDatabase, gaps: DocumentServerGaps): void {
  describe("indexes", () => {
    it("ensureIndex is idempotent", async () => {
      const users = db().collection("users");
      await users.ensureIndex({ fields: ["email"], unique: true });
      await users.ensureIndex({ fields: ["email"], unique: true });
      await users.ensureIndex({ fields: ["team", "joined"], name: "by_team" });
      await users.ensureIndex({ fields: ["team", "joined"], name: "by_team" });
      await users.insertOne({ id: "u1", email: "a@x", team: "t" });
      expect(await users.count()).toBe(1);
    });

    it("rejects an insert that repeats a unique-index value with CONFLICT and stores nothing", async () => {
      const users = db().collection("users");
      await users.ensureIndex({ fields: ["email"], unique: true });
      await users.insertOne({ id: "u1", email: "a@x" });
      await expectErrorCode(users.insertOne({ id: "u2", email: "a@x" }), "CONFLICT");
      expect(await users.findById("u2")).toBeUndefined();
      await users.insertOne({ id: "u3", email: "b@x" });
      expect(await users.count()).toBe(2);
    });

    it("treats numbers equal by value and strings case-sensitively in a unique index", async () => {
      const users = db().collection("users");
      await users.ensureIndex({ fields: ["code"], unique: true });
      await users.insertOne({ id: "u1", code: 1 });
      await expectErrorCode(users.insertOne({ id: "u2", code: 1.0 }), "CONFLICT");
      await users.insertOne({ id: "u3", code: "1" });
      await users.insertOne({ id: "u4", code: "A" });
      await users.insertOne({ id: "u5", code: "a" });
      expect(await users.count()).toBe(4);
    });

    it("enforces a compound unique index on the combination of its fields", async () => {
      const members = db().collection("members");
      await members.ensureIndex({ fields: ["org", "user"], unique: true });
      await members.insertMany([
        { id: "1", org: "a", user: "x" },
        { id: "2", org: "a", user: "y" },
        { id: "3", org: "b", user: "x" },
      ]);
      await expectErrorCode(members.insertOne({ id: "4", org: "a", user: "x" }), "CONFLICT");
      expect(await members.count()).toBe(3);
    });

    it("counts a document lacking a uniquely indexed field as null for the index", async () => {
      const users = db().collection("users");
      await users.ensureIndex({ fields: ["email"], unique: true });
      await users.insertOne({ id: "u1" });
      await expectErrorCode(users.insertOne({ id: "u2" }), "CONFLICT");
      await expectErrorCode(users.insertOne({ id: "u3", email: null }), "CONFLICT");
      expect(await users.count()).toBe(1);
    });

    it.skipIf(gaps.insertManyKeepsPrefix !== undefined)(
      "insertMany stops at a unique-index conflict, keeping the documents before it",
      async () => {
        const users = db().collection("users");
        await users.ensureIndex({ fields: ["email"], unique: true });
        await users.insertOne({ id: "u0", email: "taken" });
        await expectErrorCode(
          users.insertMany([
            { id: "u1", email: "one" },
            { id: "u2", email: "taken" },
            { id: "u3", email: "three" },
          ]),
          "CONFLICT",
        );
        expect((await users.find()).items.map((doc) => doc.id)).toEqual(["u0", "u1"]);
      },
    );

    it("rejects an update that breaks a unique index with CONFLICT and changes nothing", async () => {
      const users = db().collection("users");
      await users.ensureIndex({ fields: ["email"], unique: true });
      await users.insertMany([
        { id: "u1", email: "a", n: 1 },
        { id: "u2", email: "b", n: 1 },
      ]);
      await expectErrorCode(
        users.updateOne({ id: "u2" }, { set: { email: "a" }, increment: { n: 1 } }),
        "CONFLICT",
      );
      expect(await users.findById("u2")).toEqual({ id: "u2", email: "b", n: 1 });
      expect(await users.updateOne({ id: "u2" }, { set: { email: "c" } })).toEqual({ matched: true });
      expect(await users.updateOne({ id: "u1" }, { set: { email: "a", n: 5 } })).toEqual({ matched: true });
      expect(await users.findById("u1")).toEqual({ id: "u1", email: "a", n: 5 });
    });

    it("rejects creating a unique index over existing duplicates with CONFLICT", async () => {
      const users = db().collection("users");
      await users.insertMany([
        { id: "u1", email: "same" },
        { id: "u2", email: "same" },
      ]);
      await expectErrorCode(users.ensureIndex({ fields: ["email"], unique: true }), "CONFLICT");
      await users.insertOne({ id: "u3", email: "same" });
      expect(await users.count({ email: "same" })).toBe(3);
    });

    it("rejects an index name reused for different fields with CONFLICT", async () => {
      const users = db().collection("users");
      await users.ensureIndex({ fields: ["a"], name: "idx" });
      await expectErrorCode(users.ensureIndex({ fields: ["b"], name: "idx" }), "CONFLICT");
    });

    it("rejects an index without fields, or with an invalid field, with INVALID_ARGUMENT", async () => {
      const users = db().collection("users");
      await expectErrorCode(users.ensureIndex({ fields: [] }), "INVALID_ARGUMENT");
      await expectErrorCode(users.ensureIndex({ fields: ["$where"] }), "INVALID_ARGUMENT");
      await expectErrorCode(users.ensureIndex({ fields: ["a", "a"] }), "INVALID_ARGUMENT");
    });
  });
}
