import { fileURLToPath } from "node:url";
import { jobQueueContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { QueueFixture } from "./support/harness.js";

// The same contract with `cancellation: false`: the cancel checks are skipped (and NOT_SUPPORTED is
// checked instead), everything else must hold without the per-job state.
const fixture = new QueueFixture();
process.env.QUEUE_RABBITMQ_TEST_STATE = fixture.namespace;
process.env.QUEUE_RABBITMQ_TEST_CANCELLATION = "false";
afterAll(() => fixture.clear());

jobQueueContract("RabbitMQ without cancellation (quorum queues, state in Redis)", {
  create: () => fixture.create({ cancellation: false }),
  destroy: (queue) => fixture.destroy(queue),
  dropQueue: (queue) => fixture.dropQueue(queue),
  childModule: fileURLToPath(new URL("./support/child-queue.mjs", import.meta.url)),
  resolutionMs: 1_000,
});
