import { createMemoryJobQueue } from "@proj/adapter-memory";
import { jobQueueContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { instrumentJobQueue } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

// The W3C propagator is registered (TestTelemetry installs it), so every traced enqueue wraps its
// payload in the trace-context envelope: the contract sees the payloads it enqueued, unchanged.
const telemetry = new TestTelemetry();

jobQueueContract("adapter-memory through instrumentJobQueue", {
  create: async () => instrumentJobQueue(createMemoryJobQueue(), telemetry.options),
  resolutionMs: 100,
});
expectSpansRecordedAndClosed(telemetry, "JobQueue");

afterAll(() => telemetry.shutdown());
