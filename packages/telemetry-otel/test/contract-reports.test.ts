import { runContracts } from "@proj/decorator-contracts";
import { afterAll } from "vitest";
import { expectSpansRecordedAndClosed, instrumented } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

// The sheet row limit is not part of report-openreport's public options: the rollover tests are
// skipped here (they run in report-openreport's own suite).
runContracts("through instrumentReportGenerator", instrumented(telemetry.options), ["reports"]);
expectSpansRecordedAndClosed(telemetry, "ReportGenerator");

afterAll(() => telemetry.shutdown());
