import { sqlDatabaseContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { createPostgresDatabase } from "../src/index.js";
import { admin, createTestDatabase, destroyTestDatabase, terminateConnections } from "./support.js";

const POOL = { poolSize: 3, acquireTimeoutMs: 1_500 };

sqlDatabaseContract("PostgreSQL (pg)", {
  ...POOL,
  create: () => createTestDatabase(POOL),
  destroy: destroyTestDatabase,
  terminateConnections,
  notifications: true,
  createUnreachable: () =>
    createPostgresDatabase({ host: "127.0.0.1", port: 1, user: "postgres", acquireTimeoutMs: 2_000 }),
});

afterAll(() => admin.close());
