export {
  Chaos,
  type ChaosErrorSpec,
  type ChaosInjection,
  type ChaosOptions,
  type ChaosRule,
  type ChaosSchedule,
  createChaos,
} from "./chaos.js";
export { CHAOS_OPERATIONS, type ChaosPort } from "./operations.js";
export { withChaosCache } from "./ports/cache.js";
export { withChaosDocumentDatabase } from "./ports/documents.js";
export { withChaosJobQueue } from "./ports/jobs.js";
export { withChaosLocalFileManager } from "./ports/local-files.js";
export { withChaosObjectStorage } from "./ports/object-storage.js";
export { withChaosReportGenerator } from "./ports/reports.js";
export { withChaosSqlDatabase } from "./ports/sql.js";
export { withChaosTenantRepository } from "./ports/tenants.js";
export { withChaosTokenDecoder } from "./ports/tokens.js";
