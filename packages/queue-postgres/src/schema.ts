import { type SqlDatabase, type SqlExecutor, type SqlQuery, sql } from "@proj/ports";

/** The tables of one configured schema. */
export interface JobTables {
  readonly schema: string;
  readonly jobs: SqlQuery;
  readonly deadLetters: SqlQuery;
  readonly keys: SqlQuery;
  readonly migrations: SqlQuery;
}

export function jobTables(schema: string): JobTables {
  return {
    schema,
    jobs: sql.id(schema, "jobs"),
    deadLetters: sql.id(schema, "dead_letters"),
    keys: sql.id(schema, "idempotency_keys"),
    migrations: sql.id(schema, "migrations"),
  };
}

/**
 * The migrations, in order, each applied once per schema. A waiting job has `lease_token` NULL and
 * `run_at` when it may run; a running job has its worker's `lease_token`, and both `locked_until`
 * and `run_at` at its lease's end, so one index on `(queue, run_at)` finds due jobs and expired
 * leases alike. A cancelled job keeps its row (with `run_at` infinity) until its lease ends.
 */
const MIGRATIONS: ReadonlyArray<(t: JobTables) => SqlQuery[]> = [
  (t) => [
    sql`CREATE TABLE IF NOT EXISTS ${t.jobs} (
      id uuid PRIMARY KEY,
      queue text NOT NULL,
      payload text NOT NULL,
      attempt integer NOT NULL DEFAULT 0,
      max_attempts integer NOT NULL,
      run_at timestamptz NOT NULL,
      locked_until timestamptz,
      lease_token uuid,
      cancelled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE INDEX IF NOT EXISTS jobs_queue_run_at ON ${t.jobs} (queue, run_at)`,
    sql`CREATE INDEX IF NOT EXISTS jobs_cancelled ON ${t.jobs} (locked_until) WHERE cancelled_at IS NOT NULL`,
    sql`CREATE TABLE IF NOT EXISTS ${t.deadLetters} (
      seq bigserial PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      queue text NOT NULL,
      payload text NOT NULL,
      attempts integer NOT NULL,
      max_attempts integer NOT NULL,
      error_code text NOT NULL,
      error_message text NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now()
    )`,
    sql`CREATE INDEX IF NOT EXISTS dead_letters_queue_seq ON ${t.deadLetters} (queue, seq)`,
    sql`CREATE TABLE IF NOT EXISTS ${t.keys} (
      queue text NOT NULL,
      key bytea NOT NULL,
      job_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (queue, key)
    )`,
    sql`CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON ${t.keys} (created_at)`,
  ],
];

/** The newest schema version this package knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Creates the schema and applies pending migrations, serialised between processes by a
 * transaction-scoped advisory lock on the schema's name. Returns the versions applied.
 */
export async function migrateJobTables(
  db: SqlDatabase,
  tables: JobTables,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<number[]> {
  return db.transaction(
    async (tx) => {
      const call = { timeoutMs: options.timeoutMs, signal: options.signal };
      await tx.execute(
        sql`SELECT pg_advisory_xact_lock(hashtext(${`@proj/queue-postgres:${tables.schema}`}))`,
        call,
      );
      await tx.execute(sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(tables.schema)}`, call);
      await tx.execute(
        sql`CREATE TABLE IF NOT EXISTS ${tables.migrations} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
        call,
      );
      const done = new Set(
        (await tx.query<{ version: number }>(sql`SELECT version FROM ${tables.migrations}`, call)).map(
          (row) => row.version,
        ),
      );
      const applied: number[] = [];
      for (let index = 0; index < MIGRATIONS.length; index++) {
        const version = index + 1;
        if (done.has(version)) continue;
        for (const statement of (MIGRATIONS[index] as (t: JobTables) => SqlQuery[])(tables)) {
          await tx.execute(statement, call);
        }
        await tx.execute(sql`INSERT INTO ${tables.migrations} (version) VALUES (${version})`, call);
        applied.push(version);
      }
      return applied;
    },
    { signal: options.signal },
  );
}

/** Drops the schema and everything in it (for tests and for uninstalling). */
export async function dropJobTables(db: SqlExecutor, schema: string): Promise<void> {
  await db.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
}
