import { PGlite } from "@electric-sql/pglite";
import { createMysqlDatabase } from "@proj/adapter-mysql";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { uniqueName } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";

export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

/** A SQL backend the repository runs on: each `open()` gives a fresh, empty namespace. */
export interface Backend {
  name: string;
  /** A database over a fresh namespace, and a `connect` for more pools onto the same namespace. */
  open(poolSize?: number): Promise<Namespace>;
  /** Ends what the backend holds for the whole file. */
  shutdown(): Promise<void>;
}

export interface Namespace {
  db: SqlDatabase;
  connect(poolSize?: number): SqlDatabase;
  drop(): Promise<void>;
}

const POOL_WAIT_MS = 30_000;

/**
 * A namespace made by `create`, whose pools come from `connect` and are all closed before `remove`
 * drops it.
 */
async function namespace(
  name: string,
  create: (name: string) => Promise<unknown>,
  connect: (name: string, poolSize: number) => SqlDatabase,
  remove: (name: string) => Promise<unknown>,
  defaultPoolSize: number,
): Promise<Namespace> {
  await create(name);
  const opened: SqlDatabase[] = [];
  const open = (poolSize = defaultPoolSize) => {
    const db = connect(name, poolSize);
    opened.push(db);
    return db;
  };
  return {
    db: open(),
    connect: open,
    async drop() {
      for (const db of opened) await db.close();
      await remove(name);
    },
  };
}

function postgres(): Backend {
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 2 });
  return {
    name: "PostgreSQL",
    open: (poolSize = 5) =>
      namespace(
        uniqueName("tenants"),
        (schema) => admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`),
        (schema, size) =>
          createPostgresDatabase({
            connectionString: POSTGRES_URL,
            schema,
            poolSize: size,
            acquireTimeoutMs: POOL_WAIT_MS,
          }),
        (schema) => admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`),
        poolSize,
      ),
    shutdown: () => admin.close(),
  };
}

function pglite(): Backend {
  const engine = new PGlite("memory://");
  const admin = createPgliteDatabase({ pglite: engine });
  return {
    name: "PGlite",
    // One engine, one session: the pool size does not apply; the adapter creates the schema.
    open: () =>
      namespace(
        uniqueName("tenants"),
        async () => undefined,
        (schema) => createPgliteDatabase({ pglite: engine, schema, acquireTimeoutMs: POOL_WAIT_MS }),
        (schema) => admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`),
        1,
      ),
    async shutdown() {
      await admin.close();
      await engine.close();
    },
  };
}

function mysql(): Backend {
  const admin = createMysqlDatabase({ uri: MYSQL_URL, poolSize: 2 });
  return {
    name: "MySQL (MariaDB)",
    open: (poolSize = 5) =>
      namespace(
        uniqueName("tenants"),
        (database) => admin.execute(sql`CREATE DATABASE ${sql.id(database)}`),
        (database, size) =>
          createMysqlDatabase({ uri: MYSQL_URL, database, poolSize: size, acquireTimeoutMs: POOL_WAIT_MS }),
        (database) => admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)}`),
        poolSize,
      ),
    shutdown: () => admin.close(),
  };
}

export const BACKENDS: Record<string, () => Backend> = { postgres, pglite, mysql };
