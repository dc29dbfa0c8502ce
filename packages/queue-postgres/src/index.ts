export {
  type BackgroundErrorContext,
  createPostgresJobQueue,
  DEFAULT_JOB_CALL_TIMEOUT_MS,
  DEFAULT_MAINTENANCE_INTERVAL_MS,
  DEFAULT_POLL_INTERVAL_MS,
  type PostgresJobQueue,
  type PostgresJobQueueOptions,
} from "./postgres-job-queue.js";
export { dropJobTables, SCHEMA_VERSION } from "./schema.js";
