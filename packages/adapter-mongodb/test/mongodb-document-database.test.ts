import { expectErrorCode, uniqueName } from "@proj/contract-tests";
import { InfrastructureError, where } from "@proj/ports";
import { ObjectId } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { createMongoDocumentDatabase, type MongoDocumentDatabase } from "../src/index.js";
import { helloSupportsTransactions } from "../src/mongodb-document-database.js";
import { dropTestDatabase, openTestDatabase, server } from "./server.js";

const opened: MongoDocumentDatabase[] = [];

async function open(options: Parameters<typeof openTestDatabase>[0] = {}): Promise<MongoDocumentDatabase> {
  const database = await openTestDatabase(options);
  opened.push(database);
  return database;
}

afterEach(async () => {
  for (const database of opened.splice(0)) await dropTestDatabase(database);
});

describe("idMode objectId", () => {
  it("stores ObjectIds and hands out their 24-digit lower-case hex as ids", async () => {
    const database = await open({ idMode: "objectId" });
    const items = database.collection("items");
    const made = await items.insertOne({ n: 1 });
    expect(made.id).toMatch(/^[0-9a-f]{24}$/);
    const raw = await database.db.collection("items").findOne({});
    expect(raw?._id).toBeInstanceOf(ObjectId);
    expect(raw?._id instanceof ObjectId ? raw._id.toHexString() : undefined).toBe(made.id);
    expect(await items.findById(made.id)).toEqual({ id: made.id, n: 1 });
  });

  it("accepts a given id of 24 lower-case hex digits and refuses any other", async () => {
    const database = await open({ idMode: "objectId" });
    const items = database.collection("items");
    const id = new ObjectId().toHexString();
    expect(await items.insertOne({ id, n: 1 })).toEqual({ id, n: 1 });
    await expectErrorCode(items.insertOne({ id: "user-1" }), "INVALID_ARGUMENT");
    await expectErrorCode(items.insertOne({ id: id.toUpperCase() }), "INVALID_ARGUMENT");
    expect(await items.findById("user-1")).toBeUndefined();
    expect(await items.count({ id: where.in([id, "user-1"]) })).toBe(1);
  });

  it("pages by id with a cursor over ObjectIds", async () => {
    const database = await open({ idMode: "objectId" });
    const items = database.collection("items");
    const stored = await items.insertMany(Array.from({ length: 7 }, (_, n) => ({ n })));
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await items.find({}, { limit: 3, ...(after ? { after } : {}) });
      seen.push(...page.items.map((doc) => doc.id));
      after = page.nextCursor;
    } while (after);
    expect(seen).toEqual(stored.map((doc) => doc.id).sort());
  });
});

describe("forged cursors in objectId mode", () => {
  it("refuses a cursor whose id is not an ObjectId's hex with INVALID_ARGUMENT, rather than an empty page", async () => {
    const database = await open({ idMode: "objectId" });
    const items = database.collection("items");
    await items.insertMany(Array.from({ length: 3 }, (_, n) => ({ n })));
    const forged = Buffer.from(JSON.stringify({ s: ["id:asc"], v: [{ j: "user-1" }] })).toString("base64url");
    await expectErrorCode(items.find({}, { after: forged }), "INVALID_ARGUMENT");
    const real = (await items.find({}, { limit: 1 })).nextCursor;
    expect((await items.find({}, { after: real })).items).toHaveLength(2);
  });
});

describe("idMode string", () => {
  it("stores the id as a string _id and makes ObjectId-hex strings for new documents", async () => {
    const database = await open();
    const items = database.collection("items");
    await items.insertOne({ id: "user-1" });
    const made = await items.insertOne({});
    expect(made.id).toMatch(/^[0-9a-f]{24}$/);
    const raw = await database.db.collection("items").find({}).sort({ _id: 1 }).toArray();
    expect(raw.map((doc) => doc._id)).toEqual([made.id, "user-1"]);
  });

  it("stores Dates as BSON dates that the raw driver reads back as Dates", async () => {
    const database = await open();
    await database.collection("items").insertOne({ id: "d", at: new Date(1234) });
    const raw = await database.db.collection<{ _id: string; at?: Date }>("items").findOne({ _id: "d" });
    expect(raw?.at).toEqual(new Date(1234));
  });
});

describe("connection and capabilities", () => {
  it("detects transactions from hello: a replica set or mongos has them, a standalone does not", () => {
    expect(helloSupportsTransactions({ isWritablePrimary: true, setName: "rs0" })).toBe(true);
    expect(helloSupportsTransactions({ isWritablePrimary: true, msg: "isdbgrid" })).toBe(true);
    expect(helloSupportsTransactions({ isWritablePrimary: true })).toBe(false);
  });

  it("rejects transaction with NOT_SUPPORTED when the server has no transactions", async () => {
    const database = await open({ transactions: false });
    expect(database.capabilities.transactions).toBe(false);
    const error = await expectErrorCode(
      database.transaction(async () => 1),
      "NOT_SUPPORTED",
    );
    expect(error.message).toContain(database.db.databaseName);
  });

  it("rejects an unreachable server with UNAVAILABLE, without echoing the URL's password", async () => {
    const error = await expectErrorCode(
      createMongoDocumentDatabase({
        url: "mongodb://reader:s3cret-pass@127.0.0.1:1/",
        database: "test",
        clientOptions: { serverSelectionTimeoutMS: 300 },
      }),
      "UNAVAILABLE",
    );
    expect(error.message).not.toContain("s3cret-pass");
    expect(error.retryable).toBe(true);
  });

  it("rejects a malformed URL, database name or id mode with INVALID_ARGUMENT", async () => {
    await expectErrorCode(
      createMongoDocumentDatabase({ url: "http://x", database: "test" }),
      "INVALID_ARGUMENT",
    );
    await expectErrorCode(
      createMongoDocumentDatabase({ url: server.url, database: "a/b" }),
      "INVALID_ARGUMENT",
    );
    await expectErrorCode(
      createMongoDocumentDatabase({ url: server.url, database: "test", idMode: "uuid" as "string" }),
      "INVALID_ARGUMENT",
    );
  });

  it("exposes the driver's client and database as an escape hatch", async () => {
    const database = await open();
    await database.collection("items").insertOne({ id: "x", n: 1 });
    const viaDriver = await database.client
      .db(database.db.databaseName)
      .collection("items")
      .aggregate([{ $group: { _id: null, total: { $sum: "$n" } } }])
      .toArray();
    expect(viaDriver[0]?.total).toBe(1);
  });

  it("maps a server error to the taxonomy with the driver error as cause", async () => {
    const database = await open();
    const items = database.collection("items");
    await items.insertOne({ id: "x", label: "text" });
    const error = await expectErrorCode(
      items.updateOne({ id: "x" }, { increment: { label: 1 } }),
      "INVALID_ARGUMENT",
    );
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error.cause as { name?: string }).name).toBe("MongoServerError");
    expect(error.message).toContain("collection items");
  });

  it("keeps a transaction's collection handles from being used after it ends", async (context) => {
    const database = await open();
    if (!database.capabilities.transactions) context.skip();
    let leaked: ReturnType<typeof database.collection> | undefined;
    await database.transaction(async (tx) => {
      leaked = tx.collection("items");
      await leaked.insertOne({ id: "in" });
    });
    await expectErrorCode(leaked!.insertOne({ id: "late" }), "CLOSED");
    expect(await database.collection("items").findById("late")).toBeUndefined();
  });

  it("rejects with CANCELLED at once when the signal fires while the call is in flight", async () => {
    const database = await open();
    const items = database.collection("items");
    await items.insertOne({ id: "x" });
    for (const call of [
      (signal: AbortSignal) => items.find({}, { signal }),
      (signal: AbortSignal) => items.count({}, { signal }),
      (signal: AbortSignal) => items.insertOne({ id: "y" }, { signal }),
    ]) {
      const controller = new AbortController();
      const pending = call(controller.signal);
      controller.abort();
      await expectErrorCode(pending, "CANCELLED");
    }
    expect(await items.findById("x")).toEqual({ id: "x" });
  });

  it.runIf(server.kind === "jongodb")(
    "reports dropCollection as NOT_SUPPORTED where the server lacks drop",
    async () => {
      const database = await open();
      await database.collection("items").insertOne({ id: "x" });
      await expectErrorCode(database.dropCollection("items"), "NOT_SUPPORTED");
    },
  );

  it("uses one database per instance, named by the option", async () => {
    const name = uniqueName("named");
    const database = await open({ database: name });
    expect(database.db.databaseName).toBe(name);
  });
});
