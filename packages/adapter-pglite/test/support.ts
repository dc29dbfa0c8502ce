import { PGlite } from "@electric-sql/pglite";
import { uniqueName } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { createPgliteDatabase, type PgliteDatabase, type PgliteDatabaseOptions } from "../src/index.js";

/** One engine for the whole file: starting PGlite takes a while, a schema per test does not. */
export const engine = new PGlite("memory://");

/** How long a setup may wait for the engine to start on a loaded machine. */
export const ENGINE_START_MS = 120_000;

const admin = createPgliteDatabase({ pglite: engine });
const schemas = new WeakMap<SqlDatabase, string>();

export function createTestDatabase(
  options: Omit<PgliteDatabaseOptions, "pglite" | "schema"> = {},
): PgliteDatabase {
  const schema = uniqueName("plt");
  const db = createPgliteDatabase({ pglite: engine, schema, ...options });
  schemas.set(db, schema);
  return db;
}

export async function destroyTestDatabase(db: SqlDatabase): Promise<void> {
  await db.close();
  const schema = schemas.get(db);
  if (schema !== undefined) await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
}

export async function closeEngine(): Promise<void> {
  await admin.close();
  await engine.close();
}
