import { reportGeneratorContract } from "@proj/contract-tests";
import { createOpenReportGenerator } from "../src/index.js";
import { createOpenReportGeneratorWith } from "../src/openreport-report-generator.js";
import { readWithExcelJs } from "./readers.js";

reportGeneratorContract("openreport", {
  formats: ["xlsx", "csv"],
  create: () => createOpenReportGenerator(),
  readBack: (bytes) => readWithExcelJs(bytes),
  createWithSheetRowLimit: (rows) => createOpenReportGeneratorWith({ maxRowsPerSheet: rows }),
});
