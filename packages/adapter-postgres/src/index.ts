export {
  createPostgresDatabase,
  type PostgresDatabase,
  type PostgresDatabaseOptions,
} from "./postgres-database.js";
export type {
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryResult,
  PostgresSubmittable,
} from "./postgres-pool.js";
