import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { reportGeneratorContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { createOpenReportGenerator, type ProcessEngineCommand } from "../src/index.js";
import { createOpenReportGeneratorWith } from "../src/openreport-report-generator.js";
import { bundleEngineChild } from "./engine-child-bundle.js";
import { readWithExcelJs } from "./readers.js";

const child = await bundleEngineChild();
afterAll(() => rm(dirname(child), { recursive: true, force: true }));

const processEngines: ProcessEngineCommand[] = (["xlsx", "csv"] as const).map((format) => ({
  format,
  command: process.execPath,
  args: [child],
}));

// The same contract as test/contract.test.ts, with both formats written by the engine process.
reportGeneratorContract("openreport, engines in a child process", {
  formats: ["xlsx", "csv"],
  create: () => createOpenReportGenerator({ processEngines }),
  readBack: (bytes) => readWithExcelJs(bytes),
  createWithSheetRowLimit: (rows) => createOpenReportGeneratorWith({ processEngines, maxRowsPerSheet: rows }),
});
