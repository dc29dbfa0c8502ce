import {
  type DocumentCollection,
  type DocumentDatabase,
  type Filter,
  type FindOptions,
  type StoredDocument,
  where,
} from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import type { DocumentServerGaps } from "./index.js";

async function pageThrough(
  collection: DocumentCollection,
  filter: Filter,
  options: FindOptions,
): Promise<{ docs: StoredDocument[]; pages: number }> {
  const docs: StoredDocument[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await collection.find(filter, { ...options, ...(after === undefined ? {} : { after }) });
    docs.push(...page.items);
    after = page.nextCursor;
    pages++;
    if (pages > 200) throw new Error("paging did not end");
  } while (after !== undefined);
  return { docs, pages };
}

export function pagingTests(db: () => DocumentDatabase, gaps: DocumentServerGaps): void {
  describe("sort, limit and cursors", () => {
    it("sorts by id ascending when no sort is given", async () => {
      const items = db().collection("items");
      await items.insertMany([{ id: "c" }, { id: "a" }, { id: "b" }]);
      expect((await items.find()).items.map((doc) => doc.id)).toEqual(["a", "b", "c"]);
    });

    it("sorts by several fields and breaks ties by id ascending", async () => {
      const items = db().collection("items");
      await items.insertMany([
        { id: "5", team: "b", score: 1 },
        { id: "4", team: "a", score: 2 },
        { id: "3", team: "a", score: 2 },
        { id: "2", team: "b", score: 3 },
        { id: "1", team: "a", score: 1 },
      ]);
      const page = await items.find(
        {},
        {
          sort: [
            { field: "team", direction: "asc" },
            { field: "score", direction: "desc" },
          ],
        },
      );
      expect(page.items.map((doc) => doc.id)).toEqual(["3", "4", "1", "2", "5"]);
    });

    it("orders across types as MongoDB does: null, numbers, strings, booleans, dates", async () => {
      const items = db().collection("items");
      await items.insertMany([
        { id: "date", v: new Date(0) },
        { id: "true", v: true },
        { id: "str", v: "a" },
        { id: "num", v: 5 },
        { id: "null", v: null },
        { id: "false", v: false },
        { id: "neg", v: -1.5 },
      ]);
      const asc = await items.find({}, { sort: [{ field: "v", direction: "asc" }] });
      expect(asc.items.map((doc) => doc.id)).toEqual(["null", "neg", "num", "str", "false", "true", "date"]);
      const desc = await items.find({}, { sort: [{ field: "v", direction: "desc" }] });
      expect(desc.items.map((doc) => doc.id)).toEqual(["date", "true", "false", "str", "num", "neg", "null"]);
    });

    it.skipIf(gaps.missingSortsAsNull !== undefined)(
      "sorts a missing field as null, ties broken by id in both directions",
      async () => {
        const items = db().collection("items");
        await items.insertMany([
          { id: "b", v: null },
          { id: "a" },
          { id: "d" },
          { id: "c", v: null },
          { id: "e", v: 1 },
        ]);
        const asc = await items.find({}, { sort: [{ field: "v", direction: "asc" }] });
        expect(asc.items.map((doc) => doc.id)).toEqual(["a", "b", "c", "d", "e"]);
        const desc = await items.find({}, { sort: [{ field: "v", direction: "desc" }] });
        expect(desc.items.map((doc) => doc.id)).toEqual(["e", "a", "b", "c", "d"]);
        const { docs } = await pageThrough(
          items,
          {},
          { sort: [{ field: "v", direction: "desc" }], limit: 2 },
        );
        expect(docs.map((doc) => doc.id)).toEqual(["e", "a", "b", "c", "d"]);
      },
    );

    it("returns limit documents at a time with a cursor, and no cursor on the last page", async () => {
      const items = db().collection("items");
      await items.insertMany(Array.from({ length: 5 }, (_, i) => ({ id: `d${i}` })));
      const first = await items.find({}, { limit: 2 });
      expect(first.items.map((doc) => doc.id)).toEqual(["d0", "d1"]);
      expect(typeof first.nextCursor).toBe("string");
      const second = await items.find({}, { limit: 2, after: first.nextCursor });
      expect(second.items.map((doc) => doc.id)).toEqual(["d2", "d3"]);
      const third = await items.find({}, { limit: 2, after: second.nextCursor });
      expect(third.items.map((doc) => doc.id)).toEqual(["d4"]);
      expect(third.nextCursor).toBeUndefined();
      const exact = await items.find({}, { limit: 5 });
      expect(exact.items).toHaveLength(5);
      expect(exact.nextCursor).toBeUndefined();
    });

    it("returns at most 100 documents when no limit is given", async () => {
      const items = db().collection("items");
      await items.insertMany(Array.from({ length: 101 }, (_, i) => ({ id: String(i).padStart(3, "0") })));
      const page = await items.find();
      expect(page.items).toHaveLength(100);
      expect(page.nextCursor).toBeDefined();
      const rest = await items.find({}, { after: page.nextCursor });
      expect(rest.items.map((doc) => doc.id)).toEqual(["100"]);
    });

    it("rejects a limit outside 1 to 1000 with INVALID_ARGUMENT", async () => {
      const items = db().collection("items");
      for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
        await expectErrorCode(items.find({}, { limit }), "INVALID_ARGUMENT");
      }
      await items.insertOne({ id: "x" });
      expect((await items.find({}, { limit: 1000 })).items).toHaveLength(1);
    });

    it("visits every matching document once when paging over sort fields with ties, dates and nulls", async () => {
      const items = db().collection("items");
      const docs = Array.from({ length: 47 }, (_, i) => ({
        id: `id-${String((i * 17) % 47).padStart(2, "0")}`,
        group: i % 3 === 0 ? null : `g${i % 4}`,
        when: i % 5 === 0 ? null : new Date(Date.UTC(2024, 0, 1 + (i % 6))),
        rank: i % 7,
        keep: i % 9 !== 0,
      }));
      await items.insertMany(docs);
      const sort = [
        { field: "group", direction: "asc" },
        { field: "when", direction: "desc" },
        { field: "rank", direction: "asc" },
      ] as const;
      const all = await items.find({ keep: true }, { sort, limit: 1000 });
      for (const limit of [1, 3, 7]) {
        const { docs: paged, pages } = await pageThrough(items, { keep: true }, { sort, limit });
        expect(paged.map((doc) => doc.id)).toEqual(all.items.map((doc) => doc.id));
        expect(new Set(paged.map((doc) => doc.id)).size).toBe(paged.length);
        expect(pages).toBe(Math.ceil(all.items.length / limit));
      }
      expect(all.items).toHaveLength(docs.filter((doc) => doc.keep).length);
    });

    it("pages through dates descending with a filter, across equal dates", async () => {
      const items = db().collection("items");
      const day = (d: number) => new Date(Date.UTC(2024, 4, d));
      await items.insertMany([
        { id: "a", at: day(1), kind: "x" },
        { id: "b", at: day(2), kind: "x" },
        { id: "c", at: day(2), kind: "x" },
        { id: "d", at: day(2), kind: "y" },
        { id: "e", at: day(3), kind: "x" },
        { id: "f", at: null, kind: "x" },
      ]);
      const { docs } = await pageThrough(
        items,
        { kind: "x" },
        { sort: [{ field: "at", direction: "desc" }], limit: 2 },
      );
      expect(docs.map((doc) => doc.id)).toEqual(["e", "b", "c", "a", "f"]);
    });

    it("pages by a descending id sort without repeating documents", async () => {
      const items = db().collection("items");
      await items.insertMany(Array.from({ length: 9 }, (_, i) => ({ id: `k${i}`, n: i })));
      const { docs } = await pageThrough(
        items,
        { n: where.gte(2) },
        { sort: [{ field: "id", direction: "desc" }], limit: 4 },
      );
      expect(docs.map((doc) => doc.id)).toEqual(["k8", "k7", "k6", "k5", "k4", "k3", "k2"]);
    });

    it("does not repeat or skip documents when earlier pages change between calls", async () => {
      const items = db().collection("items");
      await items.insertMany(Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, n: i })));
      const first = await items.find({}, { sort: [{ field: "n", direction: "asc" }], limit: 3 });
      await items.deleteOne({ id: "p0" });
      await items.insertOne({ id: "p-new", n: -1 });
      const second = await items.find(
        {},
        { sort: [{ field: "n", direction: "asc" }], limit: 3, after: first.nextCursor },
      );
      expect(second.items.map((doc) => doc.id)).toEqual(["p3", "p4", "p5"]);
    });

    it("rejects a malformed cursor, or one from another sort, with INVALID_ARGUMENT", async () => {
      const items = db().collection("items");
      await items.insertMany([
        { id: "a", n: 1 },
        { id: "b", n: 2 },
        { id: "c", n: 3 },
      ]);
      const page = await items.find({}, { sort: [{ field: "n", direction: "asc" }], limit: 1 });
      await expectErrorCode(items.find({}, { after: "not a cursor!" }), "INVALID_ARGUMENT");
      await expectErrorCode(
        items.find({}, { after: Buffer.from("{}").toString("base64url") }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        items.find({}, { sort: [{ field: "n", direction: "desc" }], after: page.nextCursor }),
        "INVALID_ARGUMENT",
      );
    });

    it("rejects a sort with an invalid field or direction with INVALID_ARGUMENT", async () => {
      const items = db().collection("items");
      await expectErrorCode(
        items.find({}, { sort: [{ field: "$natural", direction: "asc" }] }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        items.find({}, { sort: [{ field: "n", direction: "up" as unknown as "asc" }] }),
        "INVALID_ARGUMENT",
      );
    });
  });
}
