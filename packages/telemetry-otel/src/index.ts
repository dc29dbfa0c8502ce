export { ATTR } from "./attributes.js";
export { DEFAULT_CACHE_SYSTEM, instrumentCache } from "./cache.js";
export { DB_DURATION } from "./db.js";
export { DEFAULT_DOCUMENT_SYSTEM, instrumentDocumentDatabase } from "./documents.js";
export { PORT_DURATION } from "./generic.js";
export {
  type InstrumentablePorts,
  type InstrumentOptionsOf,
  instrument,
  type PortName,
} from "./instrument.js";
export {
  DEFAULT_MESSAGING_SYSTEM,
  ENVELOPE_RESERVE_BYTES,
  instrumentJobQueue,
  isTraceEnvelope,
  type JobQueueInstrumentOptions,
  TRACE_CONTEXT_KEY,
  type TraceEnvelope,
} from "./jobs.js";
export { instrumentLocalFileManager } from "./local-files.js";
export { instrumentObjectStorage } from "./object-storage.js";
export { instrumentReportGenerator } from "./reports.js";
export { instrumentSqlDatabase, type SqlInstrumentOptions, sqlSystemName } from "./sql.js";
export { type SqlSummary, summarizeSql } from "./sql-summary.js";
export {
  ERROR_COUNTER,
  errorType,
  INSTRUMENTATION_SCOPE,
  type InstrumentOptions,
  type MetricNames,
} from "./telemetry.js";
export { instrumentTenantRepository } from "./tenants.js";
export { instrumentTokenDecoder } from "./tokens.js";
