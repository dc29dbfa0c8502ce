import { type DocumentCollection, isInfrastructureError, where } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createMemoryDocumentDatabase } from "../src/index.js";

async function ids(collection: DocumentCollection, filter = {}, sort?: "asc" | "desc"): Promise<string[]> {
  const page = await collection.find(filter, {
    limit: 1000,
    ...(sort ? { sort: [{ field: "v", direction: sort }] } : {}),
  });
  return page.items.map((doc) => doc.id);
}

describe("memory DocumentDatabase: MongoDB semantics beyond the contract", () => {
  it("matches a scalar condition against any element of an array field, and the whole array", async () => {
    const items = createMemoryDocumentDatabase().collection("items");
    await items.insertMany([
      { id: "a", v: [1, 5] },
      { id: "b", v: [2] },
      { id: "c", v: 5 },
    ]);
    expect(await ids(items, { v: 5 })).toEqual(["a", "c"]);
    expect(await ids(items, { v: where.gt(4) })).toEqual(["a", "c"]);
    expect(await ids(items, { v: where.ne(5) })).toEqual(["b"]);
    expect(await ids(items, { v: [2] })).toEqual(["b"]);
  });

  it("follows dotted paths into arrays of sub-documents", async () => {
    const items = createMemoryDocumentDatabase().collection("items");
    await items.insertMany([
      { id: "a", lines: [{ sku: "x" }, { sku: "y" }] },
      { id: "b", lines: [{ sku: "z" }] },
    ]);
    expect(await ids(items, { "lines.sku": "y" })).toEqual(["a"]);
    expect(await ids(items, { "lines.0.sku": "z" })).toEqual(["b"]);
  });

  it("sorts strings by code point, as MongoDB compares UTF-8 bytes", async () => {
    const items = createMemoryDocumentDatabase().collection("items");
    await items.insertMany([
      { id: "emoji", v: "\u{1F600}" },
      { id: "halfwidth", v: "\uFF61" },
      { id: "upper", v: "B" },
      { id: "lower", v: "a" },
    ]);
    expect(await ids(items, {}, "asc")).toEqual(["upper", "lower", "halfwidth", "emoji"]);
  });

  it("sorts an array by its smallest element ascending and its largest descending", async () => {
    const items = createMemoryDocumentDatabase().collection("items");
    await items.insertMany([
      { id: "arr", v: [5, 1] },
      { id: "three", v: 3 },
    ]);
    expect(await ids(items, {}, "asc")).toEqual(["arr", "three"]);
    expect(await ids(items, {}, "desc")).toEqual(["arr", "three"]);
  });

  it("matches null and missing for where.gte(null) and where.lte(null), nothing for gt or lt", async () => {
    const items = createMemoryDocumentDatabase().collection("items");
    await items.insertMany([{ id: "m" }, { id: "n", v: null }, { id: "z", v: 0 }]);
    expect(await ids(items, { v: where.gte(null) })).toEqual(["m", "n"]);
    expect(await ids(items, { v: where.lte(null) })).toEqual(["m", "n"]);
    expect(await ids(items, { v: where.gt(null) })).toEqual([]);
    expect(await ids(items, { v: where.lt(null) })).toEqual([]);
  });

  it("indexes each element of an array field in a unique index", async () => {
    const items = createMemoryDocumentDatabase().collection("items");
    await items.ensureIndex({ fields: ["tags"], unique: true });
    await items.insertOne({ id: "a", tags: ["x", "y"] });
    const error = await items.insertOne({ id: "b", tags: ["y", "z"] }).catch((caught: unknown) => caught);
    expect(isInfrastructureError(error, "CONFLICT")).toBe(true);
    await items.insertOne({ id: "c", tags: ["z"] });
  });

  it("makes ids with the generateId option", async () => {
    let n = 0;
    const items = createMemoryDocumentDatabase({ generateId: () => `gen-${++n}` }).collection("items");
    expect((await items.insertOne({})).id).toBe("gen-1");
    expect((await items.insertMany([{}, {}])).map((doc) => doc.id)).toEqual(["gen-2", "gen-3"]);
  });

  it("fails a transaction with retryable CONFLICT when another writer changed a collection it wrote", async () => {
    const db = createMemoryDocumentDatabase();
    await db.collection("items").insertOne({ id: "a", n: 0 });
    const error = await db
      .transaction(async (tx) => {
        await tx.collection("items").updateOne({ id: "a" }, { increment: { n: 1 } });
        await db.collection("items").updateOne({ id: "a" }, { increment: { n: 10 } });
      })
      .catch((caught: unknown) => caught);
    expect(isInfrastructureError(error, "CONFLICT")).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect(await db.collection("items").findById("a")).toEqual({ id: "a", n: 10 });
  });

  it("commits a transaction that only read a collection another writer changed", async () => {
    const db = createMemoryDocumentDatabase();
    await db.collection("items").insertOne({ id: "a", n: 0 });
    const seen = await db.transaction(async (tx) => {
      const before = await tx.collection("items").findById("a");
      await db.collection("items").updateOne({ id: "a" }, { increment: { n: 10 } });
      await tx.collection("log").insertOne({ id: "l", saw: before?.n ?? null });
      return (await tx.collection("items").findById("a"))?.n;
    });
    expect(seen).toBe(0);
    expect(await db.collection("log").findById("l")).toEqual({ id: "l", saw: 0 });
    expect(await db.collection("items").findById("a")).toEqual({ id: "a", n: 10 });
  });

  it("refuses collection handles of a finished transaction with CLOSED", async () => {
    const db = createMemoryDocumentDatabase();
    let leaked: DocumentCollection | undefined;
    await db.transaction(async (tx) => {
      leaked = tx.collection("items");
    });
    const error = await leaked!.count().catch((caught: unknown) => caught);
    expect(isInfrastructureError(error, "CLOSED")).toBe(true);
  });
});
