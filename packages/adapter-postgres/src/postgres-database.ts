import type { ConnectionOptions } from "node:tls";
import {
  cancelledError,
  closedError,
  InfrastructureError,
  type OperationOptions,
  postgresDialect,
  renderSql,
  type SqlDatabase,
  type SqlDatabaseCapabilities,
  type SqlExecuteResult,
  type SqlInsertManyOptions,
  type SqlQuery,
  type SqlQueryOptions,
  type SqlStreamOptions,
  type SqlTransaction,
  type SqlTransactionOptions,
  sql,
  sqlIsolationLevel,
  throwIfAborted,
} from "@proj/ports";
import pg from "pg";
import Cursor from "pg-cursor";
import { mapPostgresError } from "./map-postgres-error.js";
import { sendCancelRequest } from "./postgres-cancel.js";
import { copyRows } from "./postgres-copy.js";
import { Lease } from "./postgres-lease.js";
import {
  type Int8Mode,
  type PostgresPool,
  type PostgresQueryResult,
  poolTypes,
  searchPathOption,
} from "./postgres-pool.js";

export interface PostgresDatabaseOptions {
  /** `postgres://user:password@host:port/database?...`. Ignored when `pool` is given. */
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** Passed to `pg` as is: `true`, or TLS options. */
  ssl?: boolean | ConnectionOptions;
  /**
   * A pool you built yourself (a `pg.Pool` fits). The adapter then leaves its settings alone
   * (`schema`, `int8`, `poolSize`, `acquireTimeoutMs` and `statementTimeoutMs` do not apply) and
   * `close()` does not end it: whoever made it ends it.
   */
  pool?: PostgresPool;
  /** Schema put first on every connection's search path, so unqualified names land there. */
  schema?: string;
  /** How BIGINT (int8) columns come back. Default `"string"`: no silent precision loss. */
  int8?: Int8Mode;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** How long a call waits for a free connection before `TIMEOUT`. Default 10,000 ms. */
  acquireTimeoutMs?: number;
  /** Server-side limit for every statement (PostgreSQL `statement_timeout`). Default none. */
  statementTimeoutMs?: number;
  /** Idle connections are closed after this long. Default 30,000 ms. */
  idleTimeoutMs?: number;
  /** Shown in `pg_stat_activity.application_name`. */
  applicationName?: string;
  /**
   * Called with errors of idle connections (the server restarted, a backend was terminated). The
   * pool has already dropped that connection; the next call opens a fresh one. Default: ignored.
   */
  onIdleError?: (error: InfrastructureError) => void;
}

/** A `SqlDatabase` over `pg`, with the pool as a typed escape hatch. */
export interface PostgresDatabase extends SqlDatabase {
  /** The underlying pool, for what the port does not cover (LISTEN/NOTIFY, COPY TO, ...). */
  readonly pool: PostgresPool;
}

const CAPABILITIES: SqlDatabaseCapabilities = Object.freeze({ returning: true });
const DEFAULT_BATCH = 500;
const DEFAULT_COPY_BATCH = 1_000;

function assertPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InfrastructureError("INVALID_ARGUMENT", `${name} must be a positive number`);
  }
}

function describeTarget(table: string | readonly [string, string]): string {
  return typeof table === "string" ? table : table.join(".");
}

function beginStatement(options: SqlTransactionOptions): string {
  const parts = ["BEGIN"];
  if (options.isolationLevel !== undefined) {
    parts.push(`ISOLATION LEVEL ${sqlIsolationLevel(options.isolationLevel)}`);
  }
  if (options.readOnly === true) parts.push("READ ONLY");
  return parts.join(" ");
}

interface Limits {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

const noop = (): void => undefined;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `task` on the lease (through its queue unless the caller already holds it), bounded by the
 * signal and `timeoutMs`. When either fires the call rejects at once: a task still queued never
 * starts, a running one is cancelled on the server. `settled` resolves once the connection is free.
 */
function guarded<T>(
  lease: Lease,
  task: () => Promise<T>,
  limits: Limits,
  what: string,
  queued: boolean,
): { result: Promise<T>; settled: Promise<void> } {
  let stopped = false;
  let running = false;
  const start = async (): Promise<T | undefined> => {
    if (stopped) return undefined;
    running = true;
    return task();
  };
  const pending = queued ? lease.exclusive(start) : start();
  const settled = pending.then(noop, noop);
  const mapped = pending.then(
    (value) => value as T,
    (error: unknown) => {
      throw mapPostgresError(error, what);
    },
  );
  const { signal, timeoutMs } = limits;
  if (signal === undefined && timeoutMs === undefined) return { result: mapped, settled };
  const result = new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const stop = (error: InfrastructureError): void => {
      if (!finish()) return;
      stopped = true;
      if (running && sendCancelRequest(lease.client)) lease.cancelled = true;
      reject(error);
    };
    const onAbort = (): void => stop(cancelledError(signal as AbortSignal, what));
    // setTimeout turns delays past 2^31-1 ms into 1 ms; a limit that long is no limit.
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      const limit = new InfrastructureError("TIMEOUT", `${what} exceeded its ${timeoutMs} ms time limit`);
      timer = setTimeout(() => stop(limit), timeoutMs);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    mapped.then(
      (value) => {
        if (finish()) resolve(value);
      },
      (error: unknown) => {
        if (finish()) reject(error);
      },
    );
  });
  return { result, settled };
}

/** BEGIN, SAVEPOINT, COMMIT...: the adapter's own statements, never cancelled. Returns the command tag. */
async function runControl(lease: Lease, text: string, what: string): Promise<string | undefined> {
  try {
    const result = await lease.exclusive(() => lease.client.query(text));
    return result.command;
  } catch (error) {
    throw mapPostgresError(error, what);
  }
}

/** The statements every executor offers, on top of a way to get a connection. */
abstract class PostgresExecutor {
  readonly dialect = postgresDialect;

  /** Throws `CLOSED`/`CANCELLED` when the call must not start. */
  protected abstract check(options: OperationOptions | undefined, what: string): void;
  protected abstract signalFor(options: OperationOptions | undefined): AbortSignal | undefined;
  /** A connection for one call... */
  protected abstract lease(signal: AbortSignal | undefined, what: string): Promise<Lease>;
  /** ...given back once it is free again. */
  protected abstract giveBack(lease: Lease): void;
  /**
   * A statement with nothing to cancel, run the cheapest way the executor knows; `undefined` when it
   * knows none better than a lease.
   */
  protected plainQuery(
    _text: string,
    _values: unknown[],
    _what: string,
  ): Promise<PostgresQueryResult> | undefined {
    return undefined;
  }
  abstract transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlTransactionOptions,
  ): Promise<T>;

  query<Row = Record<string, unknown>>(query: SqlQuery, options: SqlQueryOptions = {}): Promise<Row[]> {
    return this.#run(query, options, "query").then((result) => result.rows as Row[]);
  }

  queryOne<Row = Record<string, unknown>>(
    query: SqlQuery,
    options: SqlQueryOptions = {},
  ): Promise<Row | undefined> {
    return this.#run(query, options, "query").then((result) => result.rows[0] as Row | undefined);
  }

  execute(query: SqlQuery, options: SqlQueryOptions = {}): Promise<SqlExecuteResult> {
    return this.#run(query, options, "execute").then((result) => ({ affectedRows: result.rowCount ?? 0 }));
  }

  async #run(query: SqlQuery, options: SqlQueryOptions, what: string) {
    this.check(options, what);
    const { text, values } = renderSql(query, postgresDialect);
    const signal = this.signalFor(options);
    if (signal === undefined && options.timeoutMs === undefined) {
      const plain = this.plainQuery(text, values, what);
      if (plain !== undefined) return plain;
    }
    const lease = await this.lease(signal, what);
    if (signal === undefined && options.timeoutMs === undefined && !lease.shared) {
      // The hot path: nothing to cancel and nobody to queue behind.
      try {
        return await lease.client.query(text, values);
      } catch (error) {
        throw mapPostgresError(error, what);
      } finally {
        this.giveBack(lease);
      }
    }
    const { result, settled } = guarded(
      lease,
      () => lease.client.query(text, values),
      { signal, timeoutMs: options.timeoutMs },
      what,
      lease.shared,
    );
    void settled.then(() => this.giveBack(lease));
    return result;
  }

  stream<Row = Record<string, unknown>>(query: SqlQuery, options: SqlStreamOptions = {}): AsyncIterable<Row> {
    return { [Symbol.asyncIterator]: () => this.#stream<Row>(query, options) };
  }

  /** A pg-cursor portal: FETCH `batchSize` rows per round trip; `timeoutMs` bounds each fetch. */
  async *#stream<Row>(query: SqlQuery, options: SqlStreamOptions): AsyncGenerator<Row> {
    this.check(options, "stream");
    assertPositive("batchSize", options.batchSize);
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    const { text, values } = renderSql(query, postgresDialect);
    const signal = this.signalFor(options);
    const limits = { signal, timeoutMs: options.timeoutMs };
    const lease = await this.lease(signal, "stream");
    const letNextIn = await lease.acquire();
    lease.streaming = true;
    const cursor = lease.client.query(new Cursor<Row>(text, values));
    let lastRead: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        throwIfAborted(signal, "stream");
        const read = guarded(lease, () => cursor.read(batchSize), limits, "stream", false);
        lastRead = read.settled;
        const rows = await read.result;
        if (rows.length === 0) return;
        for (const row of rows) {
          throwIfAborted(signal, "stream");
          yield row;
        }
      }
    } finally {
      await lastRead;
      // After an error pg-cursor has already synced; closing then would wait for a second
      // ReadyForQuery that never comes.
      const state = (cursor as unknown as { state?: string }).state;
      if (state !== "error" && state !== "done") {
        await cursor.close().catch(() => {
          lease.broken = true;
        });
      }
      lease.streaming = false;
      letNextIn();
      this.giveBack(lease);
    }
  }

  /** One COPY FROM STDIN, inside a transaction (or savepoint) so a failure leaves nothing behind. */
  async insertMany(
    table: string | readonly [string, string],
    columns: readonly string[],
    rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
    options: SqlInsertManyOptions = {},
  ): Promise<number> {
    this.check(options, "insertMany");
    assertPositive("batchSize", options.batchSize);
    if (columns.length === 0) throw new InfrastructureError("INVALID_ARGUMENT", "insertMany needs columns");
    const target = typeof table === "string" ? sql.id(table) : sql.id(table[0], table[1]);
    const columnList = sql.join(columns.map((column) => sql.id(column)));
    const statement = renderSql(sql`COPY ${target} (${columnList}) FROM STDIN`, postgresDialect).text;
    const what = `insertMany into ${describeTarget(table)}`;
    const batchSize = options.batchSize ?? DEFAULT_COPY_BATCH;
    return this.transaction(
      async (tx) => {
        const lease = (tx as PostgresTransaction).connection;
        const signal = (tx as PostgresTransaction).signalFor(undefined);
        return lease.exclusive(() =>
          copyRows(lease.client, statement, columns.length, rows, batchSize, signal, what),
        );
      },
      { signal: options.signal },
    );
  }
}

class PostgresTransaction extends PostgresExecutor implements SqlTransaction {
  readonly connection: Lease;
  readonly #signal: AbortSignal | undefined;
  readonly #depth: number;
  #active = true;

  constructor(connection: Lease, signal: AbortSignal | undefined, depth: number) {
    super();
    this.connection = connection;
    this.#signal = signal;
    this.#depth = depth;
  }

  settle(): void {
    this.#active = false;
  }

  protected check(options: OperationOptions | undefined, what: string): void {
    if (!this.#active) throw closedError(`transaction (${what} after it settled)`);
    if (this.connection.streaming) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `${what} while a stream of this transaction is open: finish or break the loop first`,
      );
    }
    throwIfAborted(this.#signal, what);
    throwIfAborted(options?.signal, what);
  }

  signalFor(options: OperationOptions | undefined): AbortSignal | undefined {
    const signals = [this.#signal, options?.signal].filter((signal) => signal !== undefined);
    return signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  }

  protected async lease(): Promise<Lease> {
    return this.connection;
  }

  protected giveBack(): void {
    // The connection goes back to the pool when the outermost transaction settles.
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlTransactionOptions = {},
  ): Promise<T> {
    this.check(options, "transaction");
    const savepoint = `sp_${this.#depth}`;
    const signal = this.signalFor(options);
    await runControl(this.connection, `SAVEPOINT ${savepoint}`, "savepoint");
    const nested = new PostgresTransaction(this.connection, signal, this.#depth + 1);
    let result: T;
    try {
      result = await work(nested);
      throwIfAborted(signal, "transaction");
    } catch (error) {
      nested.settle();
      await runControl(this.connection, `ROLLBACK TO SAVEPOINT ${savepoint}`, "rollback to savepoint");
      await runControl(this.connection, `RELEASE SAVEPOINT ${savepoint}`, "release savepoint");
      if (signal?.aborted) throw cancelledError(signal, "transaction");
      throw error;
    }
    nested.settle();
    await runControl(this.connection, `RELEASE SAVEPOINT ${savepoint}`, "release savepoint");
    return result;
  }
}

class PostgresPoolDatabase extends PostgresExecutor implements PostgresDatabase {
  readonly capabilities = CAPABILITIES;
  readonly pool: PostgresPool;
  readonly #ownsPool: boolean;
  readonly #onIdleError: (error: Error) => void;
  #closing: Promise<void> | undefined;

  constructor(
    pool: PostgresPool,
    ownsPool: boolean,
    onIdleError: ((error: InfrastructureError) => void) | undefined,
  ) {
    super();
    this.pool = pool;
    this.#ownsPool = ownsPool;
    this.#onIdleError = (error) => onIdleError?.(mapPostgresError(error, "idle connection"));
    pool.on("error", this.#onIdleError);
  }

  protected check(options: OperationOptions | undefined, what: string): void {
    if (this.#closing !== undefined) throw closedError(`PostgreSQL database (${what})`);
    throwIfAborted(options?.signal, what);
  }

  protected signalFor(options: OperationOptions | undefined): AbortSignal | undefined {
    return options?.signal;
  }

  protected lease(signal: AbortSignal | undefined, what: string): Promise<Lease> {
    const connecting = this.pool.connect();
    if (signal === undefined) {
      // Plain `then` rather than an async function: one promise fewer on every statement.
      return connecting.then(
        (client) => new Lease(client),
        (error: unknown) => {
          throw mapPostgresError(error, `${what} (acquiring a connection)`);
        },
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = (): void => reject(cancelledError(signal, what));
      signal.addEventListener("abort", onAbort, { once: true });
      connecting.then(
        (client) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) client.release();
          else resolve(new Lease(client));
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(mapPostgresError(error, `${what} (acquiring a connection)`));
        },
      );
    });
  }

  protected giveBack(lease: Lease): void {
    lease.release();
  }

  /**
   * The hot path on a pool this adapter made (a real `pg.Pool`): pg's callback API, one promise per
   * statement instead of four, and no lease object. Same error listener and destroy-on-failure as a
   * lease.
   */
  protected override plainQuery(
    text: string,
    values: unknown[],
    what: string,
  ): Promise<PostgresQueryResult> | undefined {
    if (!this.#ownsPool) return undefined;
    const pool = this.pool as unknown as pg.Pool;
    return new Promise<PostgresQueryResult>((resolve, reject) => {
      pool.connect((connectError, client, release) => {
        if (connectError !== undefined && connectError !== null) {
          reject(mapPostgresError(connectError, `${what} (acquiring a connection)`));
          return;
        }
        if (client === undefined) {
          reject(new InfrastructureError("INTERNAL", `${what}: the pool returned no connection`));
          return;
        }
        let broken = false;
        // A checked-out pg client has no 'error' listener: a dropped socket would crash the process.
        const onError = (): void => {
          broken = true;
        };
        client.on("error", onError);
        client.query(text, values, (queryError: Error | null, result: pg.QueryResult) => {
          client.removeListener("error", onError);
          release(broken);
          if (queryError !== null && queryError !== undefined) reject(mapPostgresError(queryError, what));
          else resolve(result);
        });
      });
    });
  }

  async ping(options: OperationOptions = {}): Promise<void> {
    await this.query(sql`SELECT 1`, options);
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlTransactionOptions = {},
  ): Promise<T> {
    this.check(options, "transaction");
    const begin = beginStatement(options);
    const lease = await this.lease(options.signal, "transaction");
    try {
      lease.shared = true;
      await runControl(lease, begin, "begin transaction");
      const tx = new PostgresTransaction(lease, options.signal, 1);
      let result: T;
      try {
        result = await work(tx);
        throwIfAborted(options.signal, "transaction");
      } catch (error) {
        tx.settle();
        // A connection that could not roll back may still be inside the transaction: never reuse it.
        await runControl(lease, "ROLLBACK", "rollback").catch(() => {
          lease.broken = true;
        });
        if (options.signal?.aborted) throw cancelledError(options.signal, "transaction");
        throw error;
      }
      tx.settle();
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK and no error.
      if ((await runControl(lease, "COMMIT", "commit")) === "ROLLBACK") {
        throw new InfrastructureError(
          "INVALID_ARGUMENT",
          "transaction rolled back at commit: a statement in it failed and its error was caught",
        );
      }
      return result;
    } finally {
      lease.release();
    }
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      const ended = this.#ownsPool ? this.pool.end() : Promise.resolve();
      this.#closing = ended.finally(() => this.pool.removeListener("error", this.#onIdleError));
    }
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Opens a pooled PostgreSQL `SqlDatabase`. Connections are made lazily, on first use. */
export function createPostgresDatabase(options: PostgresDatabaseOptions = {}): PostgresDatabase {
  assertPositive("poolSize", options.poolSize);
  assertPositive("acquireTimeoutMs", options.acquireTimeoutMs);
  assertPositive("statementTimeoutMs", options.statementTimeoutMs);
  assertPositive("idleTimeoutMs", options.idleTimeoutMs);
  if (options.pool !== undefined) return new PostgresPoolDatabase(options.pool, false, options.onIdleError);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    ssl: options.ssl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName,
    options: options.schema === undefined ? undefined : searchPathOption(options.schema),
    types: poolTypes(options.int8 ?? "string"),
  });
  return new PostgresPoolDatabase(pool, true, options.onIdleError);
}
