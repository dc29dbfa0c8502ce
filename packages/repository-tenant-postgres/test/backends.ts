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
  rowLevelSecurity: boolean;
  /** A database over a fresh namespace, and a `connect` for more pools onto the same namespace. */
  open(poolSize?: number): Promise<Namespace>;
  /** Ends what the backend holds for the whole file. */
  shutdown(): Promise<void>;
}

export interface Namespace {
  db: SqlDatabase;
  connect(poolSize?: number): Promise<SqlDatabase>;
  drop(): Promise<void>;
}

function postgres(): Backend {
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 2 });
  return {
    name: "PostgreSQL",
    rowLevelSecurity: true,
    async open(poolSize = 5) {
      const schema = uniqueName("tenants");
      await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
      const opened: SqlDatabase[] = [];
      const connect = async (size = poolSize) => {
        const db = createPostgresDatabase({
          connectionString: POSTGRES_URL,
          schema,
          poolSize: size,
          acquireTimeoutMs: 30_000,
        });
        opened.push(db);
        return db;
      };
      return {
        db: await connect(),
        connect,
        async drop() {
          for (const db of opened) await db.close();
          await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
        },
      };
    },
    shutdown: () => admin.close(),
  };
}

function pglite(): Backend {
  const engine = new PGlite("memory://");
  const admin = createPgliteDatabase({ pglite: engine });
  return {
    name: "PGlite",
    rowLevelSecurity: true,
    async open() {
      const schema = uniqueName("tenants");
      const opened: SqlDatabase[] = [];
      const connect = async () => {
        const db = createPgliteDatabase({ pglite: engine, schema, acquireTimeoutMs: 30_000 });
        opened.push(db);
        return db;
      };
      return {
        db: await connect(),
        connect,
        async drop() {
          for (const db of opened) await db.close();
          await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
        },
      };
    },
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
    rowLevelSecurity: false,
    async open(poolSize = 5) {
      const database = uniqueName("tenants");
      await admin.execute(sql`CREATE DATABASE ${sql.id(database)}`);
      const opened: SqlDatabase[] = [];
      const connect = async (size = poolSize) => {
        const db = createMysqlDatabase({
          uri: MYSQL_URL,
          database,
          poolSize: size,
          acquireTimeoutMs: 30_000,
        });
        opened.push(db);
        return db;
      };
      return {
        db: await connect(),
        connect,
        async drop() {
          for (const db of opened) await db.close();
          await admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)}`);
        },
      };
    },
    shutdown: () => admin.close(),
  };
}

export const BACKENDS: Record<string, () => Backend> = { postgres, pglite, mysql };
