import { type SqlDatabase, type SqlExecutor, type SqlQuery, type SqlTransaction, sql } from "@proj/ports";
import type { ContractHarness } from "../harness.js";

/**
 * What a SQL adapter hands `sqlDatabaseContract`.
 *
 * `create()` returns a `SqlDatabase` bound to a fresh, empty namespace (PostgreSQL: a new schema on
 * the search path; MySQL: a new database), so unqualified table names land there. `destroy()` drops
 * that namespace and closes the database; it must also work when the test already closed it.
 */
export interface SqlDatabaseHarness extends ContractHarness<SqlDatabase> {
  /** Connections in the pool `create()` builds (1 for a single-connection engine such as PGlite). */
  readonly poolSize: number;
  /**
   * How long that pool waits for a free connection before `TIMEOUT`. Keep it short (≤ 2 s): a test
   * that leaks connections then fails with `TIMEOUT` instead of hanging.
   */
  readonly acquireTimeoutMs: number;
  /**
   * Whether a statement already running on the server can be stopped by `timeoutMs` or an abort.
   * Default true. An engine that runs statements synchronously in-process (PGlite) cannot; its
   * tests of stopping a running statement are skipped, visibly.
   */
  readonly cancelsRunningStatements?: boolean;
  /**
   * Ends, on the server, every connection `db`'s pool holds (pg_terminate_backend, KILL), as a
   * server restart would. Without it the dropped-connection test is skipped, visibly.
   */
  terminateConnections?(db: SqlDatabase): Promise<void>;
  /**
   * A database configured for a server that refuses connections (a closed port), with a short
   * acquire timeout. Without it the refused-connection tests are skipped, visibly.
   */
  createUnreachable?(): SqlDatabase;
  /**
   * The adapter offers `listen()` (`capabilities.notifications`). The suite checks that the
   * database says so too, and runs the notification tests only then (skipped visibly otherwise).
   */
  readonly notifications?: boolean;
}

export interface SqlContractContext {
  readonly harness: SqlDatabaseHarness;
  /** The database of the running test. */
  db(): SqlDatabase;
}

/**
 * The few things portable SQL cannot say, chosen by `dialect.name` (part of the port): a statement
 * that keeps the server busy, and the name of the namespace the database is bound to.
 */
export function sleepQuery(
  executor: { readonly dialect: SqlDatabase["dialect"] },
  seconds: number,
): SqlQuery {
  return executor.dialect.name === "postgres"
    ? sql`SELECT pg_sleep(${seconds}) IS NULL AS slept`
    : sql`SELECT SLEEP(${seconds}) AS slept`;
}

export async function currentNamespace(db: SqlDatabase): Promise<string> {
  const row = await db.queryOne<{ ns: string }>(
    db.dialect.name === "postgres" ? sql`SELECT current_schema() AS ns` : sql`SELECT DATABASE() AS ns`,
  );
  if (row === undefined) throw new Error("the database did not name its namespace");
  return row.ns;
}

/**
 * The isolation level the server says the running transaction has, lower case ("read committed").
 * MySQL lists transactions in INNODB_TRX, a snapshot refreshed at most every 0.1 s and only once
 * the transaction has touched an InnoDB table: read one first, and look again until it shows.
 */
export async function reportedIsolationLevel(tx: SqlTransaction): Promise<string> {
  if (tx.dialect.name === "postgres") {
    const row = await tx.queryOne<{ level: string }>(
      sql`SELECT current_setting('transaction_isolation') AS level`,
    );
    return String(row?.level).toLowerCase();
  }
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const row = await tx.queryOne<{ level: string }>(
      sql`SELECT trx_isolation_level AS level FROM information_schema.INNODB_TRX
          WHERE trx_mysql_thread_id = CONNECTION_ID()`,
    );
    if (row !== undefined) return String(row.level).toLowerCase();
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error("INNODB_TRX never listed the running transaction");
}

/** `items(id INTEGER PRIMARY KEY, label VARCHAR(100) NOT NULL, note TEXT NULL)`, with `ids` inserted. */
export async function createItems(executor: SqlExecutor, ids: readonly number[] = []): Promise<void> {
  await executor.execute(
    sql`CREATE TABLE items (id INTEGER PRIMARY KEY, label VARCHAR(100) NOT NULL, note TEXT NULL)`,
  );
  for (const id of ids)
    await executor.execute(sql`INSERT INTO items (id, label) VALUES (${id}, ${`item ${id}`})`);
}

/** Row count of a table; COUNT(*) is BIGINT (a string) on some engines, so it is converted here. */
export async function countRows(executor: SqlExecutor, table: string): Promise<number> {
  const row = await executor.queryOne<{ n: unknown }>(sql`SELECT COUNT(*) AS n FROM ${sql.id(table)}`);
  return Number(row?.n);
}

export async function itemIds(executor: SqlExecutor): Promise<number[]> {
  const rows = await executor.query<{ id: unknown }>(sql`SELECT id FROM items ORDER BY id`);
  return rows.map((row) => Number(row.id));
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

export function range(count: number, start = 1): number[] {
  return Array.from({ length: count }, (_, index) => start + index);
}
