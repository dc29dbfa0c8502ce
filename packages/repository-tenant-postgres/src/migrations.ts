import {
  InfrastructureError,
  type SqlDatabase,
  type SqlDialect,
  type SqlExecutor,
  type SqlQuery,
  sql,
} from "@proj/ports";

/** One versioned schema change. Versions only grow; a shipped migration is never edited. */
export interface Migration {
  version: number;
  name: string;
  statements(dialect: SqlDialect): SqlQuery[];
}

const MIGRATIONS_TABLE = "tenant_schema_migrations";
const LOCK_NAME = "proj.repository-tenant.migrations";
/** pg_advisory_xact_lock takes a bigint; any fixed number private to this package will do. */
const POSTGRES_LOCK_KEY = 7_240_531_885_011;
const MYSQL_LOCK_SECONDS = 60;

export const TENANT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "create tenants",
    statements: (dialect) =>
      dialect.name === "postgres"
        ? [
            sql`CREATE TABLE tenants (
              id UUID PRIMARY KEY,
              slug VARCHAR(63) NOT NULL UNIQUE,
              name VARCHAR(200) NOT NULL,
              status VARCHAR(16) NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
              plan VARCHAR(50) NOT NULL,
              settings JSONB NOT NULL,
              version INTEGER NOT NULL,
              created_at TIMESTAMPTZ NOT NULL,
              updated_at TIMESTAMPTZ NOT NULL
            )`,
            sql`CREATE INDEX tenants_created_idx ON tenants (created_at, id)`,
            sql`CREATE INDEX tenants_status_created_idx ON tenants (status, created_at, id)`,
          ]
        : [
            // IF NOT EXISTS: MySQL commits DDL at once, so a crash before the migration is recorded
            // must not block the next start. ascii_bin: slugs compare byte for byte, as on PostgreSQL.
            sql`CREATE TABLE IF NOT EXISTS tenants (
              id CHAR(36) NOT NULL PRIMARY KEY,
              slug VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
              name VARCHAR(200) NOT NULL,
              status VARCHAR(16) NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
              plan VARCHAR(50) NOT NULL,
              settings LONGTEXT NOT NULL,
              version INTEGER NOT NULL,
              created_at DATETIME(3) NOT NULL,
              updated_at DATETIME(3) NOT NULL,
              INDEX tenants_created_idx (created_at, id),
              INDEX tenants_status_created_idx (status, created_at, id)
            )`,
          ],
  },
  {
    version: 2,
    name: "example tenant-owned table with row-level security",
    // The pattern for every tenant-owned table: a tenant_id column and a policy that compares it
    // with the transaction-local setting `app.tenant_id` (see runAsTenant). MySQL has no RLS, so
    // there the table exists and isolation rests on the WHERE clauses.
    statements: (dialect) =>
      dialect.name === "postgres"
        ? [
            sql`CREATE TABLE tenant_notes (
              id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              tenant_id UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
              body TEXT NOT NULL
            )`,
            sql`CREATE INDEX tenant_notes_tenant_idx ON tenant_notes (tenant_id, id)`,
            sql`ALTER TABLE tenant_notes ENABLE ROW LEVEL SECURITY`,
            sql`ALTER TABLE tenant_notes FORCE ROW LEVEL SECURITY`,
            sql`CREATE POLICY tenant_isolation ON tenant_notes
                  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
                  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)`,
          ]
        : [
            sql`CREATE TABLE IF NOT EXISTS tenant_notes (
              id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
              tenant_id CHAR(36) NOT NULL,
              body TEXT NOT NULL,
              INDEX tenant_notes_tenant_idx (tenant_id, id)
            )`,
          ],
  },
];

async function lock(tx: SqlExecutor, dialect: SqlDialect): Promise<void> {
  if (dialect.name === "postgres") {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${POSTGRES_LOCK_KEY})`);
    return;
  }
  const row = await tx.queryOne<{ got: unknown }>(
    sql`SELECT GET_LOCK(${LOCK_NAME}, ${MYSQL_LOCK_SECONDS}) AS got`,
  );
  if (Number(row?.got) !== 1) {
    throw new InfrastructureError(
      "TIMEOUT",
      `could not take the migration lock within ${MYSQL_LOCK_SECONDS} s`,
    );
  }
}

async function unlock(tx: SqlExecutor, dialect: SqlDialect): Promise<void> {
  // PostgreSQL's transaction-level lock ends with the transaction.
  if (dialect.name === "mysql") await tx.execute(sql`SELECT RELEASE_LOCK(${LOCK_NAME})`);
}

/**
 * Applies the migrations not yet recorded, each once, in version order. Two processes starting at
 * once serialise on a lock (PostgreSQL: an advisory lock held by the transaction; MySQL: GET_LOCK),
 * and the second finds the work done. Returns the versions it applied.
 */
export async function migrateTenantSchema(
  db: SqlDatabase,
  migrations: readonly Migration[] = TENANT_MIGRATIONS,
): Promise<number[]> {
  const dialect = db.dialect;
  return db.transaction(async (tx) => {
    await lock(tx, dialect);
    try {
      await tx.execute(sql`CREATE TABLE IF NOT EXISTS ${sql.id(MIGRATIONS_TABLE)} (
        version INTEGER PRIMARY KEY,
        name VARCHAR(200) NOT NULL,
        applied_at ${dialect.name === "postgres" ? sql.unsafe("TIMESTAMPTZ") : sql.unsafe("DATETIME(3)")} NOT NULL
      )`);
      const rows = await tx.query<{ version: number }>(sql`SELECT version FROM ${sql.id(MIGRATIONS_TABLE)}`);
      const applied = new Set(rows.map((row) => Number(row.version)));
      const done: number[] = [];
      for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(migration.version)) continue;
        // MySQL commits DDL implicitly, so there a failed migration can leave part of itself; each
        // statement is written to be the only one that can fail halfway (CREATE TABLE first).
        for (const statement of migration.statements(dialect)) await tx.execute(statement);
        await tx.execute(
          sql`INSERT INTO ${sql.id(MIGRATIONS_TABLE)} (version, name, applied_at) VALUES (${migration.version}, ${migration.name}, ${new Date()})`,
        );
        done.push(migration.version);
      }
      return done;
    } finally {
      await unlock(tx, dialect);
    }
  });
}
