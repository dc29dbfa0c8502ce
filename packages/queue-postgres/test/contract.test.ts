import { fileURLToPath } from "node:url";
import { jobQueueContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { dropQueueRows, openDatabase, openQueue } from "./support/backend.js";

const admin = openDatabase({ poolSize: 2 });
afterAll(() => admin.close());

jobQueueContract("PostgreSQL (SKIP LOCKED on the SqlDatabase port)", {
  // Each instance has a pool of its own, as another process would.
  create: async () => openQueue(),
  dropQueue: (queue) => dropQueueRows(admin, queue),
  childModule: fileURLToPath(new URL("./support/child-queue.mjs", import.meta.url)),
  // Delays, retries and redeliveries: a sleeping worker wakes when the next job falls due, and
  // polls at least every 200 ms.
  resolutionMs: 1_000,
});
