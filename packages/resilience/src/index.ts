export {
  type BulkheadOptions,
  type CircuitBreakerOptions,
  type CircuitStatus,
  createResiliencePolicy,
  type ResilienceEvent,
  type ResilienceEventSource,
  type ResilienceOptions,
  ResiliencePolicy,
  type ResiliencePort,
  type ResilienceRejection,
  type ResilienceStats,
  type RetryOptions,
} from "./policy.js";
export { withResilienceCache } from "./ports/cache.js";
export { withResilienceDocumentDatabase } from "./ports/documents.js";
export { withResilienceJobQueue } from "./ports/jobs.js";
export { withResilienceLocalFileManager } from "./ports/local-files.js";
export { withResilienceObjectStorage } from "./ports/object-storage.js";
export { withResilienceReportGenerator } from "./ports/reports.js";
export {
  idempotent,
  isMarkedIdempotent,
  type SqlResilienceOptions,
  withResilienceSqlDatabase,
} from "./ports/sql.js";
export { withResilienceTenantRepository } from "./ports/tenants.js";
export { withResilienceTokenDecoder } from "./ports/tokens.js";
export type { RetryBudgetOptions } from "./retry-budget.js";
