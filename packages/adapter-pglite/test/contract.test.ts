import { sqlDatabaseContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { closeEngine, createTestDatabase, destroyTestDatabase } from "./support.js";

const SESSION = { acquireTimeoutMs: 1_000 };

sqlDatabaseContract("PGlite (embedded)", {
  poolSize: 1,
  ...SESSION,
  cancelsRunningStatements: false,
  create: async () => createTestDatabase(SESSION),
  destroy: destroyTestDatabase,
});

afterAll(closeEngine);
