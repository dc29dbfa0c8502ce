import { type DocumentCollection, type DocumentDatabase, type Filter, where } from "@proj/ports";
import { beforeEach, describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";

async function ids(collection: DocumentCollection, filter: Filter): Promise<string[]> {
  const page = await collection.find(filter, { sort: [{ field: "id", direction: "asc" }], limit: 1000 });
  return page.items.map((doc) => doc.id);
}

export function queryTests(db: () => DocumentDatabase): void {
  describe("filters", () => {
    let items: DocumentCollection;
    beforeEach(async () => {
      items = db().collection("items");
      await items.insertMany([
        { id: "n1", v: 1, tag: "a", on: true, address: { city: "Paris" } },
        { id: "n2", v: 2.5, tag: "b", on: false, address: { city: "Lyon" } },
        { id: "n3", v: 10, tag: "a", at: new Date("2024-01-01T00:00:00Z") },
        { id: "s1", v: "1", tag: "c", at: new Date("2024-06-01T00:00:00Z") },
        { id: "s2", v: "b", tag: null },
        { id: "z0", v: null },
        { id: "m0" },
      ]);
    });

    it("matches every field of the filter (AND), and everything for an empty filter", async () => {
      expect(await ids(items, { tag: "a", v: 10 })).toEqual(["n3"]);
      expect(await ids(items, { tag: "a", v: 2.5 })).toEqual([]);
      expect(await ids(items, {})).toHaveLength(7);
    });

    it("compares plain values for equality, type-strictly", async () => {
      expect(await ids(items, { v: 1 })).toEqual(["n1"]);
      expect(await ids(items, { v: "1" })).toEqual(["s1"]);
      expect(await ids(items, { on: true })).toEqual(["n1"]);
      expect(await ids(items, { on: false })).toEqual(["n2"]);
      expect(await ids(items, { at: new Date("2024-01-01T00:00:00Z") })).toEqual(["n3"]);
      expect(await ids(items, { at: "2024-01-01T00:00:00.000Z" })).toEqual([]);
    });

    it("where.eq and where.ne compare for (in)equality; ne also matches documents lacking the field", async () => {
      expect(await ids(items, { tag: where.eq("a") })).toEqual(["n1", "n3"]);
      expect(await ids(items, { tag: where.ne("a") })).toEqual(["m0", "n2", "s1", "s2", "z0"]);
      expect(await ids(items, { v: where.ne(1) })).toEqual(["m0", "n2", "n3", "s1", "s2", "z0"]);
    });

    it("where.gt/gte/lt/lte order numbers, strings and dates", async () => {
      expect(await ids(items, { v: where.gt(1) })).toEqual(["n2", "n3"]);
      expect(await ids(items, { v: where.gte(1) })).toEqual(["n1", "n2", "n3"]);
      expect(await ids(items, { v: where.lt(10) })).toEqual(["n1", "n2"]);
      expect(await ids(items, { v: where.lte(10) })).toEqual(["n1", "n2", "n3"]);
      expect(await ids(items, { v: where.gt("a") })).toEqual(["s2"]);
      expect(await ids(items, { at: where.gte(new Date("2024-03-01T00:00:00Z")) })).toEqual(["s1"]);
      expect(await ids(items, { v: where.gt(1), tag: where.lte("a") })).toEqual(["n3"]);
    });

    it("matches nothing when comparing values of different types", async () => {
      expect(await ids(items, { v: where.gt("") })).toEqual(["s1", "s2"]);
      expect(await ids(items, { v: where.lt(new Date(8.64e15)) })).toEqual([]);
      expect(await ids(items, { at: where.gt(0) })).toEqual([]);
      expect(await ids(items, { on: where.gte(0) })).toEqual([]);
      expect(await ids(items, { v: where.gte(false) })).toEqual([]);
      expect(await ids(items, { v: where.in(["10", "2.5"]) })).toEqual([]);
    });

    it("where.in and where.nin test membership; nin also matches documents lacking the field", async () => {
      expect(await ids(items, { v: where.in([1, "b", 99]) })).toEqual(["n1", "s2"]);
      expect(await ids(items, { tag: where.nin(["a", "b"]) })).toEqual(["m0", "s1", "s2", "z0"]);
      expect(await ids(items, { v: where.in([]) })).toEqual([]);
      expect(await ids(items, { v: where.nin([]) })).toHaveLength(7);
    });

    it("a null value matches documents where the field is null or missing", async () => {
      expect(await ids(items, { v: null })).toEqual(["m0", "z0"]);
      expect(await ids(items, { tag: where.eq(null) })).toEqual(["m0", "s2", "z0"]);
      expect(await ids(items, { tag: where.ne(null) })).toEqual(["n1", "n2", "n3", "s1"]);
      expect(await ids(items, { tag: where.in([null, "c"]) })).toEqual(["m0", "s1", "s2", "z0"]);
    });

    it("filters on dotted paths inside nested objects", async () => {
      expect(await ids(items, { "address.city": "Lyon" })).toEqual(["n2"]);
      expect(await ids(items, { "address.city": where.gte("M") })).toEqual(["n1"]);
      expect(await ids(items, { "address.country": null })).toHaveLength(7);
    });

    it("filters on the document id with `id`", async () => {
      expect(await ids(items, { id: "n2" })).toEqual(["n2"]);
      expect(await ids(items, { id: where.in(["n1", "s2", "nope"]) })).toEqual(["n1", "s2"]);
      expect(await ids(items, { id: where.gte("s") })).toEqual(["s1", "s2", "z0"]);
      expect(await ids(items, { id: where.ne("n1"), tag: "a" })).toEqual(["n3"]);
    });

    it("compares a plain object value with stored objects for equality", async () => {
      expect(await ids(items, { address: { city: "Paris" } })).toEqual(["n1"]);
      expect(await ids(items, { address: { city: "Rome" } })).toEqual([]);
      expect(await ids(items, { address: {} })).toEqual([]);
    });

    it("treats a plain object shaped like an operator as a value to compare, never as an operator", async () => {
      expect(await ids(items, { tag: { $gt: "" } })).toEqual([]);
      expect(await ids(items, { tag: { $ne: null } })).toEqual([]);
      expect(await ids(items, { v: { $in: [1, 2.5, 10] } })).toEqual([]);
      expect(await ids(items, { id: { $regex: ".*" } })).toEqual([]);
      expect(await ids(items, { tag: [{ $exists: true }] })).toEqual([]);
      expect(await items.count({ "address.city": { $ne: "x" } })).toBe(0);
    });

    it("compares an array value with stored arrays for equality", async () => {
      const lists = db().collection("lists");
      await lists.insertMany([
        { id: "l1", xs: [1, 2] },
        { id: "l2", xs: [2, 1] },
        { id: "l3", xs: [1, 2, 3] },
      ]);
      expect(await ids(lists, { xs: [1, 2] })).toEqual(["l1"]);
      expect(await ids(lists, { xs: [] })).toEqual([]);
    });

    it("rejects a filter field starting with $, containing NUL, or named _id with INVALID_ARGUMENT", async () => {
      await expectErrorCode(items.find({ $where: "1" }), "INVALID_ARGUMENT");
      await expectErrorCode(items.find({ $or: [{ v: 1 }] }), "INVALID_ARGUMENT");
      await expectErrorCode(items.count({ "a\u0000b": 1 }), "INVALID_ARGUMENT");
      await expectErrorCode(items.deleteMany({ "address.$city": "x" }), "INVALID_ARGUMENT");
      await expectErrorCode(items.updateOne({ $expr: true }, { set: { x: 1 } }), "INVALID_ARGUMENT");
      await expectErrorCode(items.find({ _id: "n1" }), "INVALID_ARGUMENT");
      await expectErrorCode(
        items.find({}, { sort: [{ field: "_id", direction: "asc" }] }),
        "INVALID_ARGUMENT",
      );
      expect(await items.count()).toBe(7);
    });

    it("rejects a where condition other than eq/ne comparing with an object or array with INVALID_ARGUMENT", async () => {
      await expectErrorCode(
        items.find({ tag: where.in([{ $gt: "" }] as unknown as string[]) }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        items.count({ tag: where.nin([["a"]] as unknown as string[]) }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        items.find({ v: where.gt({ $gt: "" } as unknown as string) }),
        "INVALID_ARGUMENT",
      );
      expect(await ids(items, { tag: where.ne({ $gt: "" } as unknown as string) })).toHaveLength(7);
    });

    it("rejects where.in or where.nin without an array, or holding undefined, with INVALID_ARGUMENT", async () => {
      await expectErrorCode(() => where.in("a" as unknown as string[]), "INVALID_ARGUMENT");
      await expectErrorCode(() => where.nin(1 as unknown as number[]), "INVALID_ARGUMENT");
      await expectErrorCode(() => where.in(["a", undefined] as unknown as string[]), "INVALID_ARGUMENT");
      await expectErrorCode(() => where.nin([undefined] as unknown as string[]), "INVALID_ARGUMENT");
      await expectErrorCode(() => where.eq(undefined as unknown as string), "INVALID_ARGUMENT");
    });
  });
}
