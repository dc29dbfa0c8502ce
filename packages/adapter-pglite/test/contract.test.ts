import { sqlDatabaseContract } from "@proj/contract-tests";
import { afterAll, beforeAll, expect, it } from "vitest";
import { closeEngine, createTestDatabase, destroyTestDatabase, ENGINE_START_MS, engine } from "./support.js";

const SESSION = { acquireTimeoutMs: 1_000 };

// Starting the engine takes seconds on a loaded machine: setup pays for it, never a test's time limit.
beforeAll(() => engine.waitReady, ENGINE_START_MS);

it("the engine is started by the setup, before the first contract test", () => {
  expect(engine.ready).toBe(true);
});

sqlDatabaseContract("PGlite (embedded)", {
  poolSize: 1,
  ...SESSION,
  cancelsRunningStatements: false,
  notifications: true,
  create: async () => createTestDatabase(SESSION),
  destroy: destroyTestDatabase,
});

afterAll(closeEngine);
