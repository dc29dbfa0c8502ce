export { type CacheHarness, cacheContract } from "./cache/index.js";
export {
  type DocumentDatabaseHarness,
  type DocumentServerGaps,
  documentDatabaseContract,
  INJECTION_VALUES,
} from "./documents/index.js";
export { type CacheFaultHarness, cacheFaultContract } from "./faults/cache.js";
export {
  type DocumentFaultDeadlines,
  type DocumentFaultHarness,
  type DocumentFaultSubject,
  documentDatabaseFaultContract,
} from "./faults/documents.js";
export { type FaultMode, FaultProxy, type FaultProxyOptions, startFaultProxy } from "./faults/fault-proxy.js";
export {
  type JobQueueFaultDeadlines,
  type JobQueueFaultHarness,
  jobQueueFaultContract,
} from "./faults/jobs.js";
export { type ObjectStorageFaultHarness, objectStorageFaultContract } from "./faults/object-storage.js";
export {
  expectFailsWithin,
  expectRecoversWithin,
  expectSettlesWithin,
  type Settled,
} from "./faults/settle.js";
export { cycleFaults, SoakCalls, type SoakFault, type SoakOutcome } from "./faults/soak.js";
export {
  type SqlFaultDeadlines,
  type SqlFaultHarness,
  type SqlFaultSubject,
  sqlFaultContract,
} from "./faults/sql.js";
export {
  type ContractHarness,
  collectBytes,
  expectErrorCode,
  sleep,
  uniqueName,
  useFreshAdapter,
} from "./harness.js";
export { type JobQueueHarness, jobQueueContract } from "./jobs/index.js";
export { type LocalFileManagerHarness, localFileManagerContract } from "./local-files/index.js";
export { type ObjectStorageHarness, objectStorageContract } from "./object-storage/index.js";
export {
  type ReadBackCell,
  type ReadBackSheet,
  type ReportGeneratorHarness,
  reportGeneratorContract,
} from "./reports/index.js";
export { type SqlDatabaseHarness, sqlDatabaseContract } from "./sql/index.js";
export { type TenantRepositoryHarness, tenantRepositoryContract } from "./tenants/index.js";
export {
  expectRefusal,
  type TokenDecoderCapabilities,
  type TokenDecoderHarness,
  type TokenDecoderSetup,
  tokenDecoderContract,
} from "./tokens/index.js";
