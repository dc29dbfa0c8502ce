import { InfrastructureError, type SqlDatabase, type SqlExecutor, sql } from "@proj/ports";

// The name predates the reports table; kept so that instances of every version exclude each other.
const SCHEMA_LOCK = "tenant-reports.orders-schema";
const MYSQL_LOCK_SECONDS = 60;

/**
 * Runs the schema statements of one process at a time (PostgreSQL: an advisory lock held by the
 * transaction; MySQL: GET_LOCK), so instances starting together do not race on CREATE statements.
 */
export function withSchemaLock(db: SqlDatabase, work: (tx: SqlExecutor) => Promise<void>): Promise<void> {
  return db.transaction(async (tx) => {
    if (db.dialect.name === "postgres") {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${SCHEMA_LOCK}))`);
      await work(tx);
      return;
    }
    const row = await tx.queryOne<{ got: unknown }>(
      sql`SELECT GET_LOCK(${SCHEMA_LOCK}, ${MYSQL_LOCK_SECONDS}) AS got`,
    );
    if (Number(row?.got) !== 1) {
      throw new InfrastructureError(
        "TIMEOUT",
        `could not take the schema lock within ${MYSQL_LOCK_SECONDS} s`,
      );
    }
    try {
      await work(tx);
    } finally {
      await tx.execute(sql`SELECT RELEASE_LOCK(${SCHEMA_LOCK})`);
    }
  });
}
