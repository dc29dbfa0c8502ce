export {
  createPostgresDatabase,
  type PostgresDatabase,
  type PostgresDatabaseOptions,
} from "./postgres-database.js";
export type {
  Int8Mode,
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryResult,
  PostgresSubmittable,
} from "./postgres-pool.js";
