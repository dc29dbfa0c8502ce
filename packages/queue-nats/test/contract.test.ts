import { jobQueueContract } from "@proj/contract-tests";
import { afterAll, expect } from "vitest";
import { CHILD_MODULE, dropNamespace, dropQueue, openQueue } from "./support/nats.js";

jobQueueContract("NATS JetStream", {
  create: async () => openQueue(),
  dropQueue,
  childModule: CHILD_MODULE,
  // Delays and retries are the server's nak timers (to the millisecond); redeliveries its ack wait.
  resolutionMs: 250,
});

afterAll(async () => {
  // Every check dropped its queues: nothing of this run is left on the shared server.
  expect(await dropNamespace()).toEqual([]);
});
