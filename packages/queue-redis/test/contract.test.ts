import { fileURLToPath } from "node:url";
import { jobQueueContract } from "@proj/contract-tests";
import { dropQueue, openQueue, TEST_NAMESPACE } from "./support/redis.js";

jobQueueContract("queue-redis (BullMQ)", {
  create: async () => openQueue(),
  dropQueue,
  // Opens TEST_NAMESPACE, like openQueue.
  childModule: fileURLToPath(new URL("./support/child-queue.mjs", import.meta.url)),
  // BullMQ's stalled-job check runs every 500 ms (at most about 1 s apart across workers); delayed
  // jobs and retries wake a blocked worker at their due time.
  resolutionMs: 1_000,
});

void TEST_NAMESPACE;
