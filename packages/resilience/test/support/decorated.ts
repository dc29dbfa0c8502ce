import type { PortWrappers } from "@proj/decorator-contracts";
import {
  createResiliencePolicy,
  type ResilienceOptions,
  withResilienceCache,
  withResilienceDocumentDatabase,
  withResilienceJobQueue,
  withResilienceLocalFileManager,
  withResilienceObjectStorage,
  withResilienceReportGenerator,
  withResilienceSqlDatabase,
  withResilienceTenantRepository,
  withResilienceTokenDecoder,
} from "../../src/index.js";

/**
 * Every policy on, none of them able to fire during a contract test: retries (which would still run
 * for a retryable error of an idempotent operation), a deadline far past any test's, a breaker that
 * needs a million failures, a bulkhead wider than any test's concurrency.
 */
const quiet: ResilienceOptions = {
  name: "contract",
  retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
  timeoutMs: 120_000,
  circuitBreaker: { consecutiveFailures: 1_000_000, halfOpenAfterMs: 1_000 },
  bulkhead: { maxConcurrent: 100_000, maxQueued: 100_000 },
};
const policy = () => createResiliencePolicy(quiet);

/** Each port of the memory adapters, wrapped for the contract runs. */
export const decorated: PortWrappers = {
  cache: (inner) => withResilienceCache(inner, policy()),
  objectStorage: (inner) => withResilienceObjectStorage(inner, policy()),
  sql: (inner) => withResilienceSqlDatabase(inner, policy(), { assumeQueriesIdempotent: true }),
  documents: (inner) => withResilienceDocumentDatabase(inner, policy()),
  localFiles: (inner) => withResilienceLocalFileManager(inner, policy()),
  tenants: (inner) => withResilienceTenantRepository(inner, policy()),
  reports: (inner) => withResilienceReportGenerator(inner, policy()),
  tokens: (inner) => withResilienceTokenDecoder(inner, policy()),
  jobs: (inner) => withResilienceJobQueue(inner, policy()),
};

export const LABEL = "through the resilience decorator";
