export {
  createOpenReportGenerator,
  type OpenReportGeneratorOptions,
} from "./openreport-report-generator.js";
export { writeReportFile } from "./write-report-file.js";
