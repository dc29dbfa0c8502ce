import { type DocumentDatabase, where } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { DocumentServerGaps } from "./index.js";

export function crudTests(db: () => DocumentDatabase, gaps: DocumentServerGaps): void {
  const keepsPrefix = gaps.insertManyKeepsPrefix === undefined;
  describe("insert and read", () => {
    it("stores a document and returns it with the id it was given", async () => {
      const people = db().collection("people");
      const stored = await people.insertOne({
        id: "ada",
        name: "Ada",
        born: new Date("1815-12-10T00:00:00Z"),
      });
      expect(stored).toEqual({ id: "ada", name: "Ada", born: new Date("1815-12-10T00:00:00Z") });
      expect(await people.findById("ada")).toEqual(stored);
    });

    it("makes a new unique non-empty string id when none is given", async () => {
      const people = db().collection("people");
      const a = await people.insertOne({ name: "A" });
      const b = await people.insertOne({ name: "B" });
      expect(typeof a.id).toBe("string");
      expect(a.id.length).toBeGreaterThan(0);
      expect(a.id).not.toBe(b.id);
      expect(await people.findById(a.id)).toEqual({ id: a.id, name: "A" });
    });

    it("round-trips every JSON type, nested values and Dates", async () => {
      const things = db().collection("things");
      const doc = {
        id: "t1",
        text: "héllo 😀",
        int: 42,
        float: -1.5,
        big: 2 ** 40,
        yes: true,
        no: false,
        nothing: null,
        when: new Date(1_700_000_000_123),
        list: [1, "two", null, { three: [3] }],
        nested: { deep: { deeper: { value: "x" } }, empty: {} },
        emptyList: [],
      };
      await things.insertOne(doc);
      expect(await things.findById("t1")).toEqual(doc);
    });

    it("refuses a document holding undefined anywhere with INVALID_ARGUMENT, storing nothing", async () => {
      const things = db().collection("things");
      await expectErrorCode(things.insertOne({ id: "u", kept: 1, gone: undefined }), "INVALID_ARGUMENT");
      await expectErrorCode(
        things.insertOne({ id: "v", nested: { gone: undefined } } as never),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        things.insertMany([{ id: "w" }, { id: "x", list: [1, undefined] } as never]),
        "INVALID_ARGUMENT",
      );
      expect(await things.count()).toBe(0);
    });

    it("stores a copy: changing the input afterwards changes nothing stored", async () => {
      const things = db().collection("things");
      const input = { id: "c", list: [1], nested: { n: 1 } };
      await things.insertOne(input);
      input.list.push(2);
      input.nested.n = 99;
      expect(await things.findById("c")).toEqual({ id: "c", list: [1], nested: { n: 1 } });
    });

    it("returns copies: changing a returned document changes nothing stored", async () => {
      const things = db().collection<{ list: number[] }>("things");
      const returned = await things.insertOne({ id: "c", list: [1] });
      returned.list.push(2);
      const found = await things.findById("c");
      found?.list.push(3);
      const page = await things.find({ id: "c" });
      page.items[0]?.list.push(4);
      expect(await things.findById("c")).toEqual({ id: "c", list: [1] });
    });

    it("returns undefined from findById for a missing id", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "here" });
      expect(await people.findById("not-here")).toBeUndefined();
      expect(await db().collection("never-written").findById("x")).toBeUndefined();
    });

    it("rejects an id that exists already with CONFLICT and stores nothing", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "dup", version: 1 });
      await expectErrorCode(people.insertOne({ id: "dup", version: 2 }), "CONFLICT");
      expect(await people.findById("dup")).toEqual({ id: "dup", version: 1 });
      expect(await people.count()).toBe(1);
    });

    it("rejects an empty or non-string id with INVALID_ARGUMENT", async () => {
      const people = db().collection("people");
      await expectErrorCode(people.insertOne({ id: "" }), "INVALID_ARGUMENT");
      await expectErrorCode(people.insertOne({ id: 5 } as unknown as { id: string }), "INVALID_ARGUMENT");
      expect(await people.count()).toBe(0);
    });

    it("rejects values that are not JSON or Dates with INVALID_ARGUMENT", async () => {
      const things = db().collection("things");
      const bad: unknown[] = [
        Number.NaN,
        Number.POSITIVE_INFINITY,
        new Date(Number.NaN),
        () => 1,
        Symbol("s"),
        10n,
      ];
      for (const value of bad) {
        await expectErrorCode(things.insertOne({ value } as never), "INVALID_ARGUMENT");
      }
      await expectErrorCode(things.insertOne({ nested: { map: new Map() } } as never), "INVALID_ARGUMENT");
      expect(await things.count()).toBe(0);
    });

    it("insertMany validates every document before storing any", async () => {
      const things = db().collection("things");
      await expectErrorCode(
        things.insertMany([{ id: "ok-1" }, { id: "ok-2" }, { id: "bad", n: Number.NaN }]),
        "INVALID_ARGUMENT",
      );
      expect(await things.count()).toBe(0);
    });

    it("insertMany stores all documents and returns them in order with ids", async () => {
      const things = db().collection("things");
      const stored = await things.insertMany([{ id: "a", n: 1 }, { n: 2 }, { id: "c", n: 3 }]);
      expect(stored.map((doc) => doc.n)).toEqual([1, 2, 3]);
      expect(stored[0]?.id).toBe("a");
      expect(stored[2]?.id).toBe("c");
      expect(typeof stored[1]?.id).toBe("string");
      expect(await things.count()).toBe(3);
      expect(await things.insertMany([])).toEqual([]);
    });

    it.skipIf(!keepsPrefix)(
      "insertMany stops at the first conflict, keeping the documents before it",
      async () => {
        const things = db().collection("things");
        await things.insertOne({ id: "taken" });
        await expectErrorCode(
          things.insertMany([{ id: "first" }, { id: "taken" }, { id: "after" }]),
          "CONFLICT",
        );
        expect(await things.findById("first")).toEqual({ id: "first" });
        expect(await things.findById("after")).toBeUndefined();
        expect(await things.count()).toBe(2);
      },
    );

    it.skipIf(!keepsPrefix)(
      "insertMany with the same id twice in one batch conflicts on the second",
      async () => {
        const things = db().collection("things");
        await expectErrorCode(
          things.insertMany([
            { id: "x", n: 1 },
            { id: "x", n: 2 },
          ]),
          "CONFLICT",
        );
        expect(await things.findById("x")).toEqual({ id: "x", n: 1 });
      },
    );
  });

  describe("updateOne", () => {
    it("sets, unsets and increments fields, and reports that a document matched", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p", name: "Old", temp: true, visits: 2, keep: "k" });
      const result = await people.updateOne(
        { id: "p" },
        { set: { name: "New", since: new Date(5) }, unset: ["temp"], increment: { visits: 3, score: 1.5 } },
      );
      expect(result).toEqual({ matched: true });
      expect(await people.findById("p")).toEqual({
        id: "p",
        name: "New",
        since: new Date(5),
        visits: 5,
        score: 1.5,
        keep: "k",
      });
    });

    it("sets and unsets dotted paths inside nested objects, creating missing parents", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p", address: { city: "Paris", zip: "75001" } });
      await people.updateOne({ id: "p" }, { set: { "address.city": "Lyon", "prefs.theme.color": "dark" } });
      await people.updateOne({ id: "p" }, { unset: ["address.zip"], increment: { "stats.logins": 1 } });
      expect(await people.findById("p")).toEqual({
        id: "p",
        address: { city: "Lyon" },
        prefs: { theme: { color: "dark" } },
        stats: { logins: 1 },
      });
    });

    it("reports matched: false and changes nothing when no document matches", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p", n: 1 });
      expect(await people.updateOne({ id: "other" }, { set: { n: 2 } })).toEqual({ matched: false });
      expect(await people.findById("p")).toEqual({ id: "p", n: 1 });
    });

    it("updates only the first matching document by id order", async () => {
      const people = db().collection("people");
      await people.insertMany([
        { id: "c", team: "x", n: 0 },
        { id: "a", team: "x", n: 0 },
        { id: "b", team: "x", n: 0 },
      ]);
      await people.updateOne({ team: "x" }, { increment: { n: 1 } });
      const page = await people.find({}, { sort: [{ field: "id", direction: "asc" }] });
      expect(page.items.map((doc) => [doc.id, doc.n])).toEqual([
        ["a", 1],
        ["b", 0],
        ["c", 0],
      ]);
    });

    it("rejects the same field in two of set/unset/increment with INVALID_ARGUMENT", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p", n: 1 });
      await expectErrorCode(
        people.updateOne({ id: "p" }, { set: { n: 2 }, unset: ["n"] }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        people.updateOne({ id: "p" }, { set: { n: 2 }, increment: { n: 1 } }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        people.updateOne({ id: "p" }, { unset: ["n"], increment: { n: 1 } }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        people.updateOne({ id: "p" }, { set: { a: { b: 1 } }, unset: ["a.b"] }),
        "INVALID_ARGUMENT",
      );
      expect(await people.findById("p")).toEqual({ id: "p", n: 1 });
    });

    it("rejects changing the id with INVALID_ARGUMENT", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p" });
      await expectErrorCode(people.updateOne({ id: "p" }, { set: { id: "q" } }), "INVALID_ARGUMENT");
      await expectErrorCode(people.updateOne({ id: "p" }, { unset: ["id"] }), "INVALID_ARGUMENT");
      await expectErrorCode(people.updateOne({ id: "p" }, { increment: { id: 1 } }), "INVALID_ARGUMENT");
      expect(await people.findById("p")).toEqual({ id: "p" });
      expect(await people.findById("q")).toBeUndefined();
    });

    it("rejects an update that changes nothing, or increments by a non-number, with INVALID_ARGUMENT", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p", n: 1 });
      await expectErrorCode(people.updateOne({ id: "p" }, {}), "INVALID_ARGUMENT");
      await expectErrorCode(
        people.updateOne({ id: "p" }, { increment: { n: Number.NaN } }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        people.updateOne({ id: "p" }, { increment: { n: "1" as unknown as number } }),
        "INVALID_ARGUMENT",
      );
      expect(await people.findById("p")).toEqual({ id: "p", n: 1 });
    });

    it("rejects incrementing a field that holds a non-number with INVALID_ARGUMENT", async () => {
      const people = db().collection("people");
      await people.insertOne({ id: "p", label: "x" });
      await expectErrorCode(people.updateOne({ id: "p" }, { increment: { label: 1 } }), "INVALID_ARGUMENT");
      expect(await people.findById("p")).toEqual({ id: "p", label: "x" });
    });
  });

  describe("delete and count", () => {
    it("deleteOne removes one matching document and returns 1, or 0 when none matches", async () => {
      const people = db().collection("people");
      await people.insertMany([
        { id: "b", team: "x" },
        { id: "a", team: "x" },
        { id: "c", team: "y" },
      ]);
      expect(await people.deleteOne({ team: "x" })).toBe(1);
      expect(await people.count({ team: "x" })).toBe(1);
      expect(await people.deleteOne({ team: "none" })).toBe(0);
      expect(await people.findById("c")).toEqual({ id: "c", team: "y" });
      expect(await people.count()).toBe(2);
    });

    it("deleteMany removes every matching document and returns how many", async () => {
      const people = db().collection("people");
      await people.insertMany([
        { id: "1", age: 10 },
        { id: "2", age: 20 },
        { id: "3", age: 30 },
      ]);
      expect(await people.deleteMany({ age: where.gte(20) })).toBe(2);
      expect(await people.deleteMany({ age: where.gte(20) })).toBe(0);
      expect((await people.find()).items.map((doc) => doc.id)).toEqual(["1"]);
    });

    it("count counts the documents matching the filter, all of them without one", async () => {
      const people = db().collection("people");
      await people.insertMany([
        { id: "1", age: 10 },
        { id: "2", age: 20 },
        { id: "3", age: 30 },
      ]);
      expect(await people.count()).toBe(3);
      expect(await people.count({})).toBe(3);
      expect(await people.count({ age: where.lt(30) })).toBe(2);
      expect(await people.count({ age: 99 })).toBe(0);
      expect(await db().collection("empty").count()).toBe(0);
    });
  });
}
