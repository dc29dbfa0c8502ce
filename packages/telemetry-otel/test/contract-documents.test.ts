import { runContracts } from "@proj/decorator-contracts";
import { afterAll } from "vitest";
import { expectSpansRecordedAndClosed, instrumented } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

runContracts("through instrumentDocumentDatabase", instrumented(telemetry.options), ["documents"]);
expectSpansRecordedAndClosed(telemetry, "DocumentDatabase");

afterAll(() => telemetry.shutdown());
