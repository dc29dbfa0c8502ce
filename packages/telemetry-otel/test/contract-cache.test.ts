import { runContracts } from "@proj/decorator-contracts";
import { afterAll } from "vitest";
import { expectSpansRecordedAndClosed, instrumented } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

runContracts("through instrumentCache", instrumented(telemetry.options), ["cache"]);
expectSpansRecordedAndClosed(telemetry, "Cache");

// No SDK registered and none given: the decorator passes every call straight through.
runContracts("through instrumentCache with no SDK", instrumented(), ["cache"]);

afterAll(() => telemetry.shutdown());
