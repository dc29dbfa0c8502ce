import { expectErrorCode, expectFailsWithin, FaultProxy, uniqueName } from "@proj/contract-tests";
import { isOutcomeUnknown } from "@proj/ports";
import { Long, MongoClient } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import {
  createMongoDocumentDatabase,
  type MongoDocumentDatabase,
  type MongoDocumentDatabaseOptions,
  type MongoOperationOptions,
} from "../src/index.js";
import { server } from "./server.js";

const target = new URL(server.url.replace(/^mongodb(\+srv)?:/, "http:"));
const cleanup: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function proxied(options: Partial<MongoDocumentDatabaseOptions> = {}) {
  const proxy = await FaultProxy.start({ target: { host: target.hostname, port: Number(target.port) } });
  cleanup.push(() => proxy.close());
  const db = await createMongoDocumentDatabase({
    url: `mongodb://${proxy.host}:${proxy.port}/?directConnection=true`,
    database: uniqueName("deadline"),
    ...(server.kind === "jongodb" ? { transactions: true } : {}),
    ...options,
  });
  cleanup.push(async () => {
    await proxy.heal();
    await db.close();
  });
  return { proxy, db };
}

function driverOptions(db: MongoDocumentDatabase) {
  const { serverSelectionTimeoutMS, connectTimeoutMS, socketTimeoutMS, retryWrites } = db.client.options;
  return { serverSelectionTimeoutMS, connectTimeoutMS, socketTimeoutMS, retryWrites };
}

describe("default deadlines", () => {
  it("gives the driver bounded timeouts and no retried writes by default", async () => {
    const { db } = await proxied();
    expect(driverOptions(db)).toEqual({
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 5_000,
      socketTimeoutMS: 10_000,
      retryWrites: false,
    });
  });

  it("takes the adapter's options, lets clientOptions win, and Infinity turns a limit off", async () => {
    const { db } = await proxied({
      timeoutMs: Number.POSITIVE_INFINITY,
      serverSelectionTimeoutMs: 2_000,
      clientOptions: { connectTimeoutMS: 1_234, retryWrites: true },
    });
    expect(driverOptions(db)).toEqual({
      serverSelectionTimeoutMS: 2_000,
      connectTimeoutMS: 1_234,
      socketTimeoutMS: 0,
      retryWrites: true,
    });
  });

  it("refuses a deadline that is not a positive integer or Infinity with INVALID_ARGUMENT", async () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN]) {
      await expectErrorCode(
        createMongoDocumentDatabase({ url: server.url, database: "deadline", timeoutMs }),
        "INVALID_ARGUMENT",
      );
    }
    const { db } = await proxied();
    const bad: MongoOperationOptions = { timeoutMs: 0 };
    await expectErrorCode(db.collection("items").count({}, bad), "INVALID_ARGUMENT");
  });

  it("bounds a call on a silent connection by the 10 s default, with nothing configured", async () => {
    const { proxy, db } = await proxied();
    const items = db.collection("items");
    await items.count({});
    await proxy.set("silent");
    const started = Date.now();
    const error = await expectFailsWithin(items.count({}), 10_000 + 5_000, ["TIMEOUT", "UNAVAILABLE"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect(error.retryable).toBe(true);
  }, 40_000);

  it("a call's own timeoutMs replaces the adapter's, for reads and writes", async () => {
    const { proxy, db } = await proxied({ timeoutMs: 60_000 });
    const items = db.collection("items");
    await items.count({});
    await proxy.set("silent");
    const short: MongoOperationOptions = { timeoutMs: 300 };
    const read = await expectFailsWithin(items.count({}, short), 5_000, "TIMEOUT");
    expect(read.retryable).toBe(true);
    const write = await expectFailsWithin(items.insertOne({ id: "w" }, short), 5_000, "TIMEOUT");
    expect(isOutcomeUnknown(write)).toBe(true);
  });

  it("bounds the factory itself when the server never answers", async () => {
    const proxy = await FaultProxy.start({ target: { host: target.hostname, port: Number(target.port) } });
    cleanup.push(() => proxy.close());
    await proxy.set("silent");
    await expectFailsWithin(
      createMongoDocumentDatabase({
        url: `mongodb://${proxy.host}:${proxy.port}/?directConnection=true`,
        database: "deadline",
        timeoutMs: 1_000,
      }),
      6_000,
      ["TIMEOUT", "UNAVAILABLE"],
    );
  });
});

describe("transactions under faults", () => {
  it("a COMMIT whose answer is lost is reported with outcome unknown, not retryable", async (context) => {
    const { proxy, db } = await proxied({ timeoutMs: 1_500 });
    if (!db.capabilities.transactions) context.skip();
    const items = db.collection("items");
    await items.count({});
    const error = await expectFailsWithin(
      db.transaction(async (tx) => {
        await tx.collection("items").insertOne({ id: "in-tx" });
        await proxy.set("lose-replies");
      }),
      8_000,
      "TIMEOUT",
    );
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("transaction commit");
  });
});

describe.runIf(server.kind === "jongodb")("why retryWrites is off", () => {
  it("jongodb applies a write re-sent with the same session transaction number again", async () => {
    const client = new MongoClient(server.url);
    cleanup.push(() => client.close());
    const db = client.db(uniqueName("retry"));
    const session = client.startSession();
    cleanup.push(() => session.endSession());
    const update = {
      update: "counters",
      updates: [{ q: { _id: "c" }, u: { $inc: { n: 1 } }, upsert: true }],
      txnNumber: Long.fromNumber(1),
    };
    // What a retryable write does after a lost answer: the same command, lsid and txnNumber again.
    await db.command(update, { session });
    await db.command(update, { session });
    const stored = await db.collection<{ _id: string; n: number }>("counters").findOne({ _id: "c" });
    // MongoDB would answer the second from its transaction record and leave n at 1.
    expect(stored?.n).toBe(2);
  });
});
