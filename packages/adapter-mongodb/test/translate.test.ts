import { expectErrorCode } from "@proj/contract-tests";
import { decodeFindCursor, encodeFindCursor, where } from "@proj/ports";
import { ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import {
  fromMongoDocument,
  keysetFilter,
  mongoSort,
  sortKeys,
  sortTuple,
  toMongoDocument,
  translateFilter,
  translateIndex,
  translateUpdate,
} from "../src/mongodb-translate.js";

const HEX = "65a1b2c3d4e5f60718293a4b";

describe("translateFilter", () => {
  it("wraps every plain value in $eq, so an operator-shaped object stays a value", () => {
    expect(translateFilter({ name: { $gt: "" } }, "string", "t")).toEqual({ name: { $eq: { $gt: "" } } });
    expect(translateFilter({ tags: [{ $ne: null }] }, "string", "t")).toEqual({
      tags: { $eq: [{ $ne: null }] },
    });
    expect(translateFilter({ s: ".*" }, "string", "t")).toEqual({ s: { $eq: ".*" } });
  });

  it("joins several fields with $and, one clause per field", () => {
    expect(translateFilter({ a: 1, "b.c": null }, "string", "t")).toEqual({
      $and: [{ a: { $eq: 1 } }, { "b.c": { $eq: null } }],
    });
    expect(translateFilter({}, "string", "t")).toEqual({});
    expect(translateFilter(undefined, "string", "t")).toEqual({});
  });

  it("maps each where condition to the one operator it names, its operand copied", () => {
    const when = new Date(5);
    expect(
      translateFilter(
        { a: where.gt(1), b: where.lte("x"), c: where.in([1, "1"]), d: where.nin([null]), e: where.ne(when) },
        "string",
        "t",
      ),
    ).toEqual({
      $and: [
        { a: { $gt: 1 } },
        { b: { $lte: "x" } },
        { c: { $in: [1, "1"] } },
        { d: { $nin: [null] } },
        { e: { $ne: new Date(5) } },
      ],
    });
  });

  it("maps id to _id, converting 24-hex strings to ObjectIds only in objectId mode", () => {
    expect(translateFilter({ id: HEX }, "string", "t")).toEqual({ _id: { $eq: HEX } });
    expect(translateFilter({ id: HEX }, "objectId", "t")).toEqual({ _id: { $eq: new ObjectId(HEX) } });
    expect(translateFilter({ id: where.in([HEX, "nope"]) }, "objectId", "t")).toEqual({
      _id: { $in: [new ObjectId(HEX), "nope"] },
    });
  });

  it("refuses field names that start with $, contain NUL, have empty segments, or name _id", async () => {
    for (const field of ["$where", "$or", "a.$b", "a\u0000b", "a..b", ".a", "", "_id", "_id.x"]) {
      await expectErrorCode(() => translateFilter({ [field]: 1 }, "string", "t"), "INVALID_ARGUMENT");
    }
  });

  it("refuses operands that are not JSON or Dates", async () => {
    for (const value of [Number.NaN, new Map(), () => 1, 1n]) {
      await expectErrorCode(() => translateFilter({ a: value as never }, "string", "t"), "INVALID_ARGUMENT");
    }
  });
});

describe("documents", () => {
  it("moves the port's id to _id and back, keeping __proto__ as an own field", () => {
    const input = JSON.parse('{"id":"a","__proto__":{"x":1},"n":1}');
    const doc = toMongoDocument(input, "string", "t");
    expect(doc._id).toBe("a");
    expect(Object.hasOwn(doc, "__proto__")).toBe(true);
    const back = fromMongoDocument(doc);
    expect(back.id).toBe("a");
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toEqual({ x: 1 });
  });

  it("makes ObjectId ids: hex strings in string mode, ObjectIds in objectId mode", () => {
    const asString = toMongoDocument({}, "string", "t");
    expect(asString._id).toMatch(/^[0-9a-f]{24}$/);
    const asObjectId = toMongoDocument({}, "objectId", "t");
    expect(asObjectId._id).toBeInstanceOf(ObjectId);
    expect(fromMongoDocument(asObjectId).id).toBe((asObjectId._id as ObjectId).toHexString());
  });

  it("refuses in objectId mode an id that is not 24 lower-case hex digits", async () => {
    await expectErrorCode(() => toMongoDocument({ id: "abc" }, "objectId", "t"), "INVALID_ARGUMENT");
    await expectErrorCode(
      () => toMongoDocument({ id: HEX.toUpperCase() }, "objectId", "t"),
      "INVALID_ARGUMENT",
    );
    expect(toMongoDocument({ id: HEX }, "objectId", "t")._id).toEqual(new ObjectId(HEX));
  });

  it("refuses $-prefixed, dotted and NUL keys at any depth, and a field named _id", async () => {
    for (const doc of [
      { $set: 1 },
      { a: { $gt: 1 } },
      { a: [{ "b.c": 1 }] },
      { "a\u0000": 1 },
      { _id: "x" },
    ]) {
      await expectErrorCode(() => toMongoDocument(doc, "string", "t"), "INVALID_ARGUMENT");
    }
  });

  it("copies values so later changes to the input reach nothing stored", () => {
    const when = new Date(1);
    const input = { list: [1], when };
    const doc = toMongoDocument(input, "string", "t");
    input.list.push(2);
    when.setTime(99);
    expect(doc.list).toEqual([1]);
    expect(doc.when).toEqual(new Date(1));
  });
});

describe("sort and keyset cursors", () => {
  it("appends _id ascending as the tie-breaker unless the sort names id", () => {
    expect(mongoSort(sortKeys([{ field: "a", direction: "desc" }], "t"))).toEqual({ a: -1, _id: 1 });
    expect(mongoSort(sortKeys([{ field: "id", direction: "desc" }], "t"))).toEqual({ _id: -1 });
    expect(mongoSort(sortKeys(undefined, "t"))).toEqual({ _id: 1 });
  });

  it("round-trips sort values, Dates included, through an opaque base64url cursor", () => {
    const keys = sortKeys([{ field: "at", direction: "asc" }], "t");
    const tuple = sortTuple({ _id: "x", at: new Date(7) }, keys);
    const cursor = encodeFindCursor(keys, tuple);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeFindCursor(cursor, keys)).toEqual([new Date(7), "x"]);
  });

  it("refuses a cursor made for another sort", async () => {
    const asc = sortKeys([{ field: "a", direction: "asc" }], "t");
    const desc = sortKeys([{ field: "a", direction: "desc" }], "t");
    const cursor = encodeFindCursor(asc, [1, "x"]);
    await expectErrorCode(() => decodeFindCursor(cursor, desc), "INVALID_ARGUMENT");
    await expectErrorCode(() => decodeFindCursor("%%%", asc), "INVALID_ARGUMENT");
  });

  it("after a number ascending: greater numbers, then every type that sorts after numbers, or a later id", () => {
    const keys = sortKeys([{ field: "n", direction: "asc" }], "t");
    expect(keysetFilter(keys, [5, "k"], "string")).toEqual({
      $or: [
        {
          $or: [
            { n: { $gt: 5 } },
            { n: { $type: "string" } },
            { n: { $type: "object" } },
            { n: { $type: "array" } },
            { n: { $type: "bool" } },
            { n: { $type: "date" } },
          ],
        },
        { $and: [{ n: { $eq: 5 } }, { _id: { $gt: "k" } }] },
      ],
    });
  });

  it("after a date descending: earlier dates, every type before dates, and null or missing", () => {
    const keys = sortKeys([{ field: "at", direction: "desc" }], "t");
    const filter = keysetFilter(keys, [new Date(9), "k"], "string");
    expect(filter.$or[0]).toEqual({
      $or: [
        { at: { $lt: new Date(9) } },
        { at: { $type: "number" } },
        { at: { $type: "string" } },
        { at: { $type: "object" } },
        { at: { $type: "array" } },
        { at: { $type: "bool" } },
        { at: { $eq: null } },
      ],
    });
  });

  it("after null: anything not null ascending, nothing but later ids descending", () => {
    const asc = sortKeys([{ field: "v", direction: "asc" }], "t");
    expect(keysetFilter(asc, [null, "k"], "string")).toEqual({
      $or: [{ v: { $ne: null } }, { $and: [{ v: { $eq: null } }, { _id: { $gt: "k" } }] }],
    });
    const desc = sortKeys([{ field: "v", direction: "desc" }], "t");
    expect(keysetFilter(desc, [null, "k"], "string")).toEqual({
      $and: [{ v: { $eq: null } }, { _id: { $gt: "k" } }],
    });
  });

  it("compares the id tie-breaker as an ObjectId in objectId mode", () => {
    const keys = sortKeys(undefined, "t");
    expect(keysetFilter(keys, [HEX], "objectId")).toEqual({ _id: { $gt: new ObjectId(HEX) } });
  });
});

describe("translateUpdate", () => {
  it("maps set, unset and increment to $set, $unset and $inc", () => {
    expect(
      translateUpdate({ set: { a: 1, "b.c": { d: [1] } }, unset: ["e"], increment: { f: -2 } }, "t"),
    ).toEqual({
      $set: { a: 1, "b.c": { d: [1] } },
      $unset: { e: "" },
      $inc: { f: -2 },
    });
  });

  it("refuses overlapping paths, the id, operator paths, and an empty update", async () => {
    const bad = [
      { set: { a: 1 }, unset: ["a"] },
      { set: { a: 1 }, increment: { "a.b": 1 } },
      { set: { id: "x" } },
      { unset: ["_id"] },
      { set: { $where: 1 } },
      { set: { a: { $gt: 1 } } },
      { increment: { a: Number.POSITIVE_INFINITY } },
      {},
    ];
    for (const update of bad)
      await expectErrorCode(() => translateUpdate(update as never, "t"), "INVALID_ARGUMENT");
  });
});

describe("translateIndex", () => {
  it("derives a stable name from the fields and maps id to _id", () => {
    expect(translateIndex({ fields: ["org", "id"], unique: true }, "t")).toEqual({
      name: "org_1_id_1",
      key: { org: 1, _id: 1 },
      unique: true,
    });
    expect(translateIndex({ fields: ["a"], name: "by_a" }, "t")).toEqual({
      name: "by_a",
      key: { a: 1 },
      unique: false,
    });
  });
});
