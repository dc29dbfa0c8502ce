import { jobQueueFaultContract } from "@proj/contract-tests";
import { afterAll, expect } from "vitest";
import { dropNamespace, dropQueue, NATS_SERVERS, openQueue } from "./support/nats.js";

const [host = "127.0.0.1", port = "4222"] = NATS_SERVERS.replace(/^nats:\/\//, "").split(":");

jobQueueFaultContract("NATS JetStream", {
  target: () => ({ host, port: Number(port) }),
  create: async (endpoint) => openQueue({ servers: `${endpoint.host}:${endpoint.port}`, timeoutMs: 5_000 }),
  dropQueue,
  deadlines: {
    callMs: 5_000,
    // Reconnect back-off (at most 2 s between attempts) and a worker's fresh pull session.
    recoverMs: 5_000,
    // close() flushes for at most 2 s before it closes the socket.
    closeMs: 5_000,
  },
  resolutionMs: 250,
});

afterAll(async () => {
  expect(await dropNamespace()).toEqual([]);
});
