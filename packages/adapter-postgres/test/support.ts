import { uniqueName } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { createPostgresDatabase, type PostgresDatabase, type PostgresDatabaseOptions } from "../src/index.js";

/** The local test server; CI may point elsewhere. */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A connection outside any test schema, for creating and dropping them and for looking on. */
export const admin: PostgresDatabase = createPostgresDatabase({
  connectionString: POSTGRES_URL,
  poolSize: 3,
});

const schemas = new WeakMap<SqlDatabase, string>();

/** A database bound to a fresh schema of its own. */
export async function createTestDatabase(
  options: Omit<PostgresDatabaseOptions, "connectionString" | "schema"> = {},
): Promise<PostgresDatabase> {
  const schema = uniqueName("pgt");
  await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
  const db = createPostgresDatabase({
    connectionString: POSTGRES_URL,
    schema,
    applicationName: schema,
    ...options,
  });
  schemas.set(db, schema);
  return db;
}

export async function destroyTestDatabase(db: SqlDatabase): Promise<void> {
  await db.close();
  const schema = schemas.get(db);
  if (schema !== undefined) await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
}

/** Ends every server connection of a test database (its application_name is its schema). */
export async function terminateConnections(db: SqlDatabase): Promise<void> {
  const schema = schemas.get(db);
  if (schema === undefined) throw new Error("not a test database");
  await admin.query(
    sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${schema}`,
  );
}
