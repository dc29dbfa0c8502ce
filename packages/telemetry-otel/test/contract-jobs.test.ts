import { runContracts } from "@proj/decorator-contracts";
import { afterAll } from "vitest";
import { expectSpansRecordedAndClosed, instrumented } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

// The W3C propagator is registered (TestTelemetry installs it), so every traced enqueue wraps its
// payload in the trace-context envelope: the contract sees the payloads it enqueued, unchanged.
const telemetry = new TestTelemetry();

runContracts("through instrumentJobQueue", instrumented(telemetry.options), ["jobs"]);
expectSpansRecordedAndClosed(telemetry, "JobQueue");

afterAll(() => telemetry.shutdown());
