import { jobQueueFaultContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { QueueFixture } from "./support/harness.js";

const fixture = new QueueFixture();
afterAll(() => fixture.clear());

jobQueueFaultContract("RabbitMQ (quorum queues, state in Redis)", {
  target: () => ({ host: "127.0.0.1", port: 5672 }),
  // Only RabbitMQ goes through the proxy; the state store (Redis) is reached directly.
  create: ({ host, port }) => fixture.create({ url: `amqp://guest:guest@${host}:${port}` }),
  destroy: (queue) => fixture.destroy(queue),
  dropQueue: (queue) => fixture.dropQueue(queue),
  deadlines: {
    // The default call deadline (timeoutMs).
    callMs: 10_000,
    // A worker's reconnect back-off is capped at 5 s; one subscribe takes a few round trips.
    recoverMs: 8_000,
  },
  resolutionMs: 1_000,
});
