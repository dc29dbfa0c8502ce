import { fileURLToPath } from "node:url";
import { jobQueueContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { QueueFixture } from "./support/harness.js";

const fixture = new QueueFixture();
// The child process of the SIGKILL check shares the state namespace through its environment.
process.env.QUEUE_RABBITMQ_TEST_STATE = fixture.namespace;
afterAll(() => fixture.clear());

jobQueueContract("RabbitMQ (quorum queues, state in Redis)", {
  create: () => fixture.create(),
  destroy: (queue) => fixture.destroy(queue),
  dropQueue: (queue) => fixture.dropQueue(queue),
  childModule: fileURLToPath(new URL("./support/child-queue.mjs", import.meta.url)),
  resolutionMs: 1_000,
});
