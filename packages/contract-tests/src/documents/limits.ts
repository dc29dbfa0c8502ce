import {
  type DocumentCollection,
  type DocumentDatabase,
  type Filter,
  type FindOptions,
  isInfrastructureError,
  type JsonValue,
  type UpdateSpec,
} from "@proj/ports";
import { beforeEach, describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { DocumentServerGaps } from "./index.js";

/** 16 MiB, the largest document, filter or update of the port (`MAX_DOCUMENT_BYTES`). */
const LIMIT = 16 * 1024 * 1024;

/** `{ n: { n: ... leaf } }`: a document of `levels` levels, itself being level 1. */
export function nested(levels: number, leaf: JsonValue = 1): { [key: string]: JsonValue } {
  let out: { [key: string]: JsonValue } = { n: leaf };
  for (let i = 1; i < levels; i++) out = { n: out };
  return out;
}

/** A `where` condition as only a forger could make it: the port's marker with any `op`. */
function forgedCondition(op: string, value: unknown): never {
  return { [Symbol.for("@proj/ports.FilterCondition")]: true, op, value } as never;
}

/** A cursor in the port's encoding (`encodeFindCursor`) holding whatever values a forger chose. */
function forgedCursor(signature: string[], values: unknown[]): string {
  return Buffer.from(JSON.stringify({ s: signature, v: values })).toString("base64url");
}

/** Each call that takes a filter, with it. */
function filterCalls(
  collection: DocumentCollection,
  filter: Filter,
): [name: string, call: () => Promise<unknown>][] {
  return [
    ["find", () => collection.find(filter)],
    ["count", () => collection.count(filter)],
    ["updateOne", () => collection.updateOne(filter, { set: { touched: true } })],
    ["deleteOne", () => collection.deleteOne(filter)],
    ["deleteMany", () => collection.deleteMany(filter)],
  ];
}

async function expectRefusedEverywhere(
  collection: DocumentCollection,
  filter: Filter,
  code: "INVALID_ARGUMENT" | "RESOURCE_EXHAUSTED",
): Promise<void> {
  for (const [name, call] of filterCalls(collection, filter)) {
    const error = await expectErrorCode(call, code);
    expect(error.retryable, `${name} retryable`).toBe(false);
  }
}

export function limitTests(db: () => DocumentDatabase, gaps: DocumentServerGaps): void {
  describe("input limits", () => {
    let users: DocumentCollection;
    beforeEach(async () => {
      users = db().collection("users");
      await users.insertMany([
        { id: "u1", email: "a@x", role: "user", address: { city: "Paris" }, tags: ["a"] },
        { id: "u2", email: "b@x", role: "admin", address: { city: "Lyon" }, tags: [] },
        { id: "u3", role: "user" },
      ]);
    });

    async function expectUntouched(): Promise<void> {
      expect(await users.count({})).toBe(3);
      expect(await users.count({ touched: true })).toBe(0);
    }

    it("refuses a filter field whose value is undefined with INVALID_ARGUMENT in every call, never widening it to all", async () => {
      for (const filter of [
        { email: undefined },
        { email: undefined, role: "user" },
        { address: { city: undefined } },
        { tags: ["a", undefined] },
        { email: forgedCondition("eq", undefined) },
        { email: forgedCondition("in", ["a@x", undefined]) },
      ] as Filter[]) {
        await expectRefusedEverywhere(users, filter, "INVALID_ARGUMENT");
      }
      await expectUntouched();
    });

    it("refuses a missing filter in updateOne, deleteOne and deleteMany with INVALID_ARGUMENT; {} addresses all", async () => {
      const missing = undefined as unknown as Filter;
      await expectErrorCode(users.updateOne(missing, { set: { touched: true } }), "INVALID_ARGUMENT");
      await expectErrorCode(users.deleteOne(missing), "INVALID_ARGUMENT");
      await expectErrorCode(users.deleteMany(missing), "INVALID_ARGUMENT");
      await expectUntouched();
      expect(await users.count()).toBe(3);
      expect(await users.deleteMany({})).toBe(3);
    });

    it("refuses an update holding undefined, or a part it does not define, with INVALID_ARGUMENT", async () => {
      for (const update of [
        { set: { email: undefined } },
        { set: { address: { city: undefined } } },
        { set: { tags: [undefined] } },
        { set: undefined, unset: ["email"] },
        { unset: ["email", undefined] },
        { increment: { n: undefined } },
        { set: { touched: true }, $set: { role: "admin" } },
      ] as unknown as UpdateSpec[]) {
        await expectErrorCode(users.updateOne({ id: "u1" }, update), "INVALID_ARGUMENT");
      }
      await expectUntouched();
      expect((await users.findById("u1"))?.email).toBe("a@x");
    });

    it("refuses a _bsontype key in a document, filter or update with INVALID_ARGUMENT", async () => {
      const tags: JsonValue[] = [
        { _bsontype: "ObjectId", id: "0123456789ab" },
        { _bsontype: "Code", code: "return 1" },
        { deeper: [{ _bsontype: "Long", low: 1, high: 0 }] },
      ];
      for (const value of tags) {
        await expectErrorCode(users.insertOne({ id: "b", value }), "INVALID_ARGUMENT");
        await expectRefusedEverywhere(users, { value }, "INVALID_ARGUMENT");
        await expectErrorCode(users.updateOne({ id: "u1" }, { set: { value } }), "INVALID_ARGUMENT");
      }
      await expectErrorCode(users.insertOne({ id: "b", _bsontype: "Code" }), "INVALID_ARGUMENT");
      await expectUntouched();
      expect(await users.findById("b")).toBeUndefined();
    });

    it("refuses lone UTF-16 surrogates in values, keys and ids with INVALID_ARGUMENT, which a backend would store altered", async () => {
      const notes = db().collection("notes");
      await notes.insertOne({ id: "k\ufffd", body: "k\ufffd" });
      await expectErrorCode(notes.insertOne({ id: "a", body: "k\ud800" }), "INVALID_ARGUMENT");
      await expectErrorCode(notes.insertOne({ id: "b", "k\udc00": 1 }), "INVALID_ARGUMENT");
      await expectErrorCode(notes.insertOne({ id: "k\ud800" }), "INVALID_ARGUMENT");
      await expectRefusedEverywhere(notes, { body: "k\ud800" }, "INVALID_ARGUMENT");
      await expectErrorCode(
        notes.updateOne({ id: "k\ufffd" }, { set: { body: "\udfff" } }),
        "INVALID_ARGUMENT",
      );
      expect(await notes.findById("k\ud800")).toBeUndefined();
      expect(await notes.find({})).toEqual({ items: [{ id: "k\ufffd", body: "k\ufffd" }] });
    });

    it("stores a document of 100 levels and refuses 101 or 10,000 levels with INVALID_ARGUMENT", async () => {
      const notes = db().collection("notes");
      // The document is level 1 and holds `deep` at level 2: 99 levels below it make 100.
      const deepest = { id: "ok", deep: nested(99) };
      await notes.insertOne(deepest);
      expect(await notes.findById("ok")).toEqual(deepest);
      expect(await notes.count({ deep: nested(99) })).toBe(1);
      for (const levels of [100, 10_000]) {
        await expectErrorCode(notes.insertOne({ id: "deep", deep: nested(levels) }), "INVALID_ARGUMENT");
        await expectRefusedEverywhere(notes, { deep: nested(levels) }, "INVALID_ARGUMENT");
        await expectErrorCode(
          notes.updateOne({ id: "ok" }, { set: { deep: nested(levels) } }),
          "INVALID_ARGUMENT",
        );
      }
      // A value set at a dotted path sits as deep as the path: "a.b" holds level 3.
      await expectErrorCode(
        notes.updateOne({ id: "ok" }, { set: { "a.b": nested(99) } }),
        "INVALID_ARGUMENT",
      );
      expect(await notes.count()).toBe(1);
      expect(await notes.findById("ok")).toEqual(deepest);
    });

    it("refuses a document over 16 MiB as BSON with RESOURCE_EXHAUSTED, not retryable, storing nothing", async () => {
      const notes = db().collection("notes");
      const over = "x".repeat(LIMIT);
      const error = await expectErrorCode(notes.insertOne({ id: "big", body: over }), "RESOURCE_EXHAUSTED");
      expect(error.retryable).toBe(false);
      await expectErrorCode(
        notes.insertMany([
          { id: "small" },
          { id: "big", halves: ["x".repeat(LIMIT / 2), "x".repeat(LIMIT / 2)] },
        ]),
        "RESOURCE_EXHAUSTED",
      );
      // Multi-byte characters count as their UTF-8 bytes: 6 Mi of "é" is 12 MiB, "😀" 24 MiB.
      await expectErrorCode(
        notes.insertOne({ id: "wide", body: "\u{1F600}".repeat(6 * 1024 * 1024) }),
        "RESOURCE_EXHAUSTED",
      );
      expect(await notes.count()).toBe(0);
    });

    it("stores a document just under 16 MiB", async () => {
      const notes = db().collection("notes");
      const body = "y".repeat(LIMIT - 1024);
      await notes.insertOne({ id: "near", body });
      expect((await notes.findById("near"))?.body).toHaveLength(body.length);
    });

    it("refuses filter operands over 16 MiB with RESOURCE_EXHAUSTED", async () => {
      const half = "x".repeat(LIMIT / 2);
      await expectRefusedEverywhere(users, { email: half, role: half }, "RESOURCE_EXHAUSTED");
      await expectRefusedEverywhere(
        users,
        {
          email: forgedCondition(
            "in",
            Array.from({ length: 17 }, (_, i) => `${i}${"z".repeat(1024 * 1024)}`),
          ),
        },
        "RESOURCE_EXHAUSTED",
      );
      await expectUntouched();
    });

    it("refuses an update whose values pass 16 MiB with RESOURCE_EXHAUSTED", async () => {
      const half = "x".repeat(LIMIT / 2);
      await expectErrorCode(
        users.updateOne({ id: "u1" }, { set: { a: half, b: half } }),
        "RESOURCE_EXHAUSTED",
      );
      expect((await users.findById("u1"))?.a).toBeUndefined();
    });

    it.skipIf(gaps.updateSizeLimit !== undefined)(
      "refuses an update that would grow a document past 16 MiB with RESOURCE_EXHAUSTED, changing nothing",
      async () => {
        const nine = "x".repeat(9 * 1024 * 1024);
        expect(await users.updateOne({ id: "u1" }, { set: { a: nine } })).toEqual({ matched: true });
        await expectErrorCode(users.updateOne({ id: "u1" }, { set: { b: nine } }), "RESOURCE_EXHAUSTED");
        const stored = await users.findById("u1");
        expect(stored?.a).toHaveLength(nine.length);
        expect(stored?.b).toBeUndefined();
      },
    );

    it("refuses a malformed sort with INVALID_ARGUMENT", async () => {
      for (const sort of [
        { field: "email", direction: "asc" },
        { email: 1 },
        [null],
        ["email"],
        [{ field: 1, direction: "asc" }],
        [{ field: "email" }],
        [{ field: "email", direction: "asc" }, undefined],
        [{ field: "", direction: "asc" }],
        [{ field: "a..b", direction: "desc" }],
      ]) {
        await expectErrorCode(users.find({}, { sort } as unknown as FindOptions), "INVALID_ARGUMENT");
      }
    });

    it("refuses a cursor whose values are not valid for the sort's types with INVALID_ARGUMENT", async () => {
      const asc = [{ field: "when", direction: "asc" }] as const;
      const signature = ["when:asc", "id:asc"];
      const cursors = [
        forgedCursor(signature, [{ d: 8.64e15 + 1 }, { j: "u1" }]),
        forgedCursor(signature, [{ d: 1e300 }, { j: "u1" }]),
        forgedCursor(signature, [{ d: "2024-01-01" }, { j: "u1" }]),
        forgedCursor(signature, [{ d: 0 }, { j: 7 }]),
        forgedCursor(signature, [{ d: 0 }, { j: { $gt: "" } }]),
        forgedCursor(signature, [{ d: 0 }, { j: "" }]),
        forgedCursor(signature, [{ d: 0 }, { d: 0 }]),
        forgedCursor(signature, [{ j: { _bsontype: "MinKey" } }, { j: "u1" }]),
        forgedCursor(signature, [{}, { j: "u1" }]),
        forgedCursor(["id:asc"], [{ j: 1 }]),
      ];
      for (const after of cursors) {
        const sort = after === cursors[cursors.length - 1] ? [] : asc;
        await expectErrorCode(users.find({}, { sort, after, limit: 1 }), "INVALID_ARGUMENT");
      }
      await expectErrorCode(users.find({}, { after: 42 as unknown as string }), "INVALID_ARGUMENT");
      // A cursor the adapter made still pages on.
      const first = await users.find({}, { sort: asc, limit: 1 });
      const second = await users.find({}, { sort: asc, limit: 1, after: first.nextCursor });
      expect(second.items.map((doc) => doc.id)).not.toEqual(first.items.map((doc) => doc.id));
    });

    it("refuses a forged condition whose operator is not one of the port's own with INVALID_ARGUMENT", async () => {
      for (const op of [
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
        "valueOf",
        "$where",
        "regex",
        "",
      ]) {
        await expectRefusedEverywhere(users, { role: forgedCondition(op, "user") }, "INVALID_ARGUMENT");
      }
      await expectUntouched();
    });

    it("answers every refusal above with an InfrastructureError, never a raw TypeError or RangeError", async () => {
      const attempts: (() => Promise<unknown>)[] = [
        () => users.find({}, { sort: { a: 1 } as never }),
        () => users.find({}, { sort: [null] as never }),
        () => users.insertOne({ id: "d", deep: nested(10_000) }),
        () => users.count({ deep: nested(10_000) }),
        () => users.find(null as never),
        () => users.updateOne({ id: "u1" }, null as never),
        () => users.updateOne({ id: "u1" }, { unset: [10n as never] }),
        () => users.find({}, { sort: [{ field: 10n as never, direction: "asc" }] }),
        () => users.count({ role: forgedCondition(Object.create(null), "user") }),
        () => users.ensureIndex({ fields: ["email"], name: 10n as never }),
        async () => db().collection(10n as never),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(isInfrastructureError(error, "INVALID_ARGUMENT"), String(error)).toBe(true);
      }
    });
  });
}
