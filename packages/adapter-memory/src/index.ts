export {
  createMemoryDocumentDatabase,
  type MemoryDocumentDatabaseOptions,
} from "./memory-document-database.js";
export { createMemoryJobQueue, type MemoryJobQueueOptions } from "./memory-job-queue.js";
export { createMemoryObjectStorage, type MemoryObjectStorageOptions } from "./memory-object-storage.js";
export {
  createMemoryTenantRepository,
  type MemoryTenantRepositoryOptions,
} from "./memory-tenant-repository.js";
export {
  createMemoryTokenAuthority,
  type MemoryTokenAuthority,
  type MemoryTokenAuthorityOptions,
} from "./memory-tokens.js";
