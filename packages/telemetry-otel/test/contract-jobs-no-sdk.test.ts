import { createMemoryJobQueue } from "@proj/adapter-memory";
import { jobQueueContract } from "@proj/contract-tests";
import { instrumentJobQueue } from "../src/index.js";

// No SDK registered and none given: nothing is traced, payloads go unwrapped (unless they have the
// envelope's shape), and the payload limit still keeps the envelope's reserve.
jobQueueContract("adapter-memory through instrumentJobQueue with no SDK", {
  create: async () => instrumentJobQueue(createMemoryJobQueue()),
  resolutionMs: 100,
});
