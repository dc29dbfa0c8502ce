import { documentDatabaseFaultContract, uniqueName } from "@proj/contract-tests";
import { MongoClient } from "mongodb";
import { afterAll } from "vitest";
import { createMongoDocumentDatabase } from "../src/index.js";
import { server } from "./server.js";

/** Short deadlines so that each fault case runs in seconds; the defaults are checked elsewhere. */
const TIMEOUT_MS = 2_000;
const target = new URL(server.url.replace(/^mongodb(\+srv)?:/, "http:"));

/** The server seen directly, never through the proxy: where effects are counted. */
const direct = new MongoClient(server.url, { serverSelectionTimeoutMS: 5_000 });
afterAll(() => direct.close());

documentDatabaseFaultContract(`mongodb (${server.kind})`, {
  target: { host: target.hostname, port: Number(target.port || 27017) },
  deadlines: { callMs: TIMEOUT_MS },
  // One pooled connection, the monitor and its round-trip-time connection.
  maxIdleConnections: 3,
  async create(endpoint) {
    const database = uniqueName("faults");
    const db = await createMongoDocumentDatabase({
      url: `mongodb://${endpoint.host}:${endpoint.port}/?directConnection=true`,
      database,
      timeoutMs: TIMEOUT_MS,
      serverSelectionTimeoutMs: 1_500,
      connectTimeoutMs: 1_500,
      clientOptions: { maxPoolSize: 1 },
    });
    return {
      db,
      async countOnServer(collection, fields = {}) {
        const { id, ...rest } = fields;
        return direct
          .db(database)
          .collection(collection)
          .countDocuments({ ...rest, ...(id === undefined ? {} : { _id: id }) } as never);
      },
      async destroy() {
        await db.close();
        if (server.kind === "real") await direct.db(database).dropDatabase();
      },
    };
  },
});
