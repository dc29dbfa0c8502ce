export {
  createOpenReportGenerator,
  type OpenReportGeneratorOptions,
} from "./openreport-report-generator.js";
