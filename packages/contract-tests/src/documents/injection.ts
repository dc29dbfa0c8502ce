import { type DocumentDatabase, type Filter, isInfrastructureError, type JsonValue } from "@proj/ports";
import { beforeEach, describe, expect, it } from "vitest";

/**
 * Values an attacker could send through a JSON body into a filter or a document. Each must stay a
 * value (compared for equality, stored verbatim) or be refused with INVALID_ARGUMENT, never act as
 * an operator.
 */
export const INJECTION_VALUES: readonly { name: string; value: JsonValue }[] = [
  { name: "$gt empty string", value: { $gt: "" } },
  { name: "$ne null", value: { $ne: null } },
  { name: "$ne empty string", value: { $ne: "" } },
  { name: "$where JavaScript", value: { $where: "this.role === 'admin'" } },
  { name: "$regex match-all", value: { $regex: ".*" } },
  { name: "$regex with $options", value: { $regex: "^A", $options: "i" } },
  { name: "$exists true", value: { $exists: true } },
  { name: "$in list", value: { $in: ["admin", "user"] } },
  { name: "$nin empty", value: { $nin: [] } },
  { name: "$not wrapper", value: { $not: { $eq: "x" } } },
  { name: "$expr always true", value: { $expr: { $eq: [1, 1] } } },
  { name: "$elemMatch", value: { $elemMatch: { $gt: "" } } },
  { name: "$type string", value: { $type: "string" } },
  { name: "$size", value: { $size: 0 } },
  { name: "$jsonSchema", value: { $jsonSchema: {} } },
  { name: "array of operator objects", value: [{ $gt: "" }, { $ne: null }] },
  { name: "nested operator", value: { a: { $gt: "" } } },
  { name: "$or as a value", value: { $or: [{ role: "admin" }] } },
  { name: "regex-looking string", value: ".*" },
  { name: "$-string", value: "$role" },
  { name: "dotted-key object", value: { "a.b": 1 } },
  { name: "__proto__ key", value: JSON.parse('{"__proto__": {"admin": true}}') as JsonValue },
  { name: "constructor key", value: { constructor: { prototype: { admin: true } } } },
  { name: "Extended JSON ObjectId", value: { $oid: "507f1f77bcf86cd799439011" } },
  { name: "Extended JSON date", value: { $date: "2024-01-01T00:00:00Z" } },
];

async function refusedOrValue<T>(
  action: () => Promise<T>,
): Promise<{ refused: true } | { refused: false; value: T }> {
  try {
    return { refused: false, value: await action() };
  } catch (error) {
    if (isInfrastructureError(error, "INVALID_ARGUMENT")) return { refused: true };
    throw error;
  }
}

export function injectionTests(db: () => DocumentDatabase): void {
  describe("operator injection", () => {
    beforeEach(async () => {
      await db()
        .collection("accounts")
        .insertMany([
          { id: "alice", name: "alice", role: "admin", secret: "s1", tags: ["admin"] },
          { id: "bob", name: "bob", role: "user", secret: "s2", tags: [] },
          { id: "nobody", name: "", role: null },
        ]);
    });

    for (const { name, value } of INJECTION_VALUES) {
      it(`a filter value ${name} matches nothing or is refused, never everything`, async () => {
        const accounts = db().collection("accounts");
        for (const field of ["name", "role", "secret", "tags", "id"]) {
          const filter: Filter = { [field]: value };
          const found = await refusedOrValue(() => accounts.find(filter));
          if (!found.refused) expect(found.value.items, `find on ${field}`).toEqual([]);
          const counted = await refusedOrValue(() => accounts.count(filter));
          if (!counted.refused) expect(counted.value, `count on ${field}`).toBe(0);
          const deleted = await refusedOrValue(() => accounts.deleteMany(filter));
          if (!deleted.refused) expect(deleted.value, `deleteMany on ${field}`).toBe(0);
          const updated = await refusedOrValue(() => accounts.updateOne(filter, { set: { role: "owned" } }));
          if (!updated.refused) expect(updated.value, `updateOne on ${field}`).toEqual({ matched: false });
        }
        expect(await accounts.count({ role: "owned" })).toBe(0);
        expect(await accounts.count()).toBe(3);
      });

      it(`a document field holding ${name} is stored verbatim or refused, and matched only by itself`, async () => {
        const notes = db().collection("notes");
        const stored = await refusedOrValue(() => notes.insertOne({ id: "n", payload: value, other: "x" }));
        if (stored.refused) {
          expect(await notes.count()).toBe(0);
          return;
        }
        const read = await notes.findById("n");
        expect(read).toEqual({ id: "n", payload: value, other: "x" });
        expect(JSON.stringify(read?.payload)).toBe(JSON.stringify(value));
        expect(({} as Record<string, unknown>).admin).toBeUndefined();
        expect((await notes.find({ payload: value })).items.map((doc) => doc.id)).toEqual(["n"]);
        await notes.insertOne({ id: "m", payload: "plain", other: "y" });
        expect(await notes.count({ payload: value })).toBe(1);
      });
    }

    it("a document key starting with $ is refused or stored verbatim, at the top level and nested", async () => {
      const notes = db().collection("notes");
      for (const doc of [{ $set: { role: "admin" } }, { nested: { $where: "1" } }, { list: [{ $gt: 1 }] }]) {
        const stored = await refusedOrValue(() => notes.insertOne(doc as never));
        if (!stored.refused) expect(await notes.findById(stored.value.id)).toMatchObject(doc);
      }
      expect(await notes.count({ role: "admin" })).toBe(0);
    });

    it("a dotted document key is refused or stored verbatim, never as a path", async () => {
      const notes = db().collection("notes");
      const stored = await refusedOrValue(() => notes.insertOne({ id: "d", "profile.role": "admin" }));
      if (!stored.refused) expect(await notes.findById("d")).toEqual({ id: "d", "profile.role": "admin" });
      expect(await notes.count({ "profile.role": "admin" })).toBe(0);
    });

    it("__proto__ and constructor keys stay data and pollute no prototype", async () => {
      const notes = db().collection("notes");
      const doc = JSON.parse('{"id":"p","__proto__":{"polluted":true},"constructor":{"name":"x"}}');
      const stored = await refusedOrValue(() => notes.insertOne(doc));
      if (!stored.refused) {
        const read = await notes.findById("p");
        expect(Object.hasOwn(read ?? {}, "__proto__")).toBe(true);
        expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
        expect((read as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.getOwnPropertyDescriptor(read, "constructor")?.value).toEqual({ name: "x" });
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it("stores arrays of documents under inherited property names verbatim, reading back documents", async () => {
      const notes = db().collection("notes");
      const doc = JSON.parse(
        '{"id":"q","__proto__":[{"a":1},{}],"constructor":[{"b":[{}]}],"toString":[{}],"hasOwnProperty":{"x":[{"y":1}]}}',
      );
      await notes.insertOne(doc);
      const read = await notes.findById("q");
      expect(read).toEqual(doc);
      expect(Object.getOwnPropertyDescriptor(read, "__proto__")?.value).toEqual([{ a: 1 }, {}]);
      expect((await notes.find({ id: "q" })).items).toEqual([doc]);
    });

    it("update paths and values cannot smuggle operators", async () => {
      const accounts = db().collection("accounts");
      for (const update of [
        { set: { $where: "1" } },
        { set: { "role.$": "x" } },
        { unset: ["$role"] },
        { increment: { "$inc.n": 1 } },
      ]) {
        const result = await refusedOrValue(() => accounts.updateOne({ id: "bob" }, update));
        expect(result.refused, JSON.stringify(update)).toBe(true);
      }
      const set = await refusedOrValue(() =>
        accounts.updateOne({ id: "bob" }, { set: { role: { $set: "admin" } } }),
      );
      if (!set.refused) expect((await accounts.findById("bob"))?.role).toEqual({ $set: "admin" });
      expect(await accounts.count({ role: "admin" })).toBe(1);
    });

    it("a string id that looks like an operator or an ObjectId is only ever an id", async () => {
      const accounts = db().collection("accounts");
      expect(await accounts.findById('{"$gt":""}')).toBeUndefined();
      expect(await accounts.findById("$where")).toBeUndefined();
      expect(await accounts.findById(".*")).toBeUndefined();
      expect(await accounts.findById({ $gt: "" } as unknown as string)).toBeUndefined();
    });
  });
}
