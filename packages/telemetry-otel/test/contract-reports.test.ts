import { reportGeneratorContract } from "@proj/contract-tests";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { afterAll } from "vitest";
import { instrumentReportGenerator } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { readXlsx } from "./support/read-xlsx.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

// The sheet row limit is not part of report-openreport's public options: the rollover tests are
// skipped here (they run in report-openreport's own suite).
reportGeneratorContract("report-openreport through instrumentReportGenerator", {
  formats: ["xlsx", "csv"],
  create: () => instrumentReportGenerator(createOpenReportGenerator(), telemetry.options),
  readBack: (bytes) => readXlsx(bytes),
});
expectSpansRecordedAndClosed(telemetry, "ReportGenerator");

afterAll(() => telemetry.shutdown());
