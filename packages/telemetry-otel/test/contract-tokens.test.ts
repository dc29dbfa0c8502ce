import { runContracts } from "@proj/decorator-contracts";
import { afterAll } from "vitest";
import { expectSpansRecordedAndClosed, instrumented } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

runContracts("through instrumentTokenDecoder", instrumented(telemetry.options), ["tokens"]);
expectSpansRecordedAndClosed(telemetry, "TokenDecoder");

afterAll(() => telemetry.shutdown());
