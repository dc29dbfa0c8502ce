import { createPostgresDatabase } from "@proj/adapter-postgres";
import { jobQueueFaultContract } from "@proj/contract-tests";
import { afterAll, beforeAll } from "vitest";
import { createPostgresJobQueue } from "../src/index.js";
import { dropQueueRows, openDatabase, openQueue, TEST_SCHEMA } from "./support/backend.js";

/** The deadlines the adapter is configured with here (the defaults are 10 s calls). */
const CALL_MS = 2_000;
const CANCEL_GRACE_MS = 500;
const admin = openDatabase({ poolSize: 2 });
beforeAll(async () => {
  const queue = openQueue();
  await queue.migrate();
  await queue.close();
});
afterAll(() => admin.close());

jobQueueFaultContract("PostgreSQL (SKIP LOCKED on the SqlDatabase port)", {
  target: () => ({ host: "127.0.0.1", port: 5432 }),
  create: async ({ host, port }) =>
    createPostgresJobQueue(
      createPostgresDatabase({
        host,
        port,
        user: "postgres",
        database: "test",
        poolSize: 6,
        acquireTimeoutMs: CALL_MS,
        timeoutMs: CALL_MS,
        cancelGraceMs: CANCEL_GRACE_MS,
      }),
      { schema: TEST_SCHEMA, timeoutMs: CALL_MS, closeDatabase: true },
    ),
  dropQueue: (queue) => dropQueueRows(admin, queue),
  deadlines: {
    // The call's deadline, then the driver's cancel grace before it reports the outcome unknown.
    callMs: CALL_MS + CANCEL_GRACE_MS,
    // A worker's claims back off to 5 s at most while the database is gone.
    recoverMs: 5_000,
  },
});
