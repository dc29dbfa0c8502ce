import { sqlDatabaseContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { admin, createTestDatabase, destroyTestDatabase } from "./support.js";

const POOL = { poolSize: 3, acquireTimeoutMs: 1_500 };

sqlDatabaseContract("PostgreSQL (pg)", {
  ...POOL,
  create: () => createTestDatabase(POOL),
  destroy: destroyTestDatabase,
});

afterAll(() => admin.close());
