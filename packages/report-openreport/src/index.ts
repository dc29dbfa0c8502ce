export {
  createOpenReportGenerator,
  type OpenReportGeneratorOptions,
} from "./openreport-report-generator.js";
export type { ProcessEngineCommand } from "./process-engine.js";
export { writeReportFile } from "./write-report-file.js";
