import type { Socket } from "node:net";
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
  type SqlListener,
  type SqlListenOptions,
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
import {
  acquireWithin,
  type CallbackClient,
  type CallbackPool,
  type CallLimits,
  limitsFrom,
  neverSent,
  PooledStatement,
  type ResultShape,
  runControl,
  runStatement,
  shaped,
} from "./postgres-call.js";
import { copyRows } from "./postgres-copy.js";
import { Lease } from "./postgres-lease.js";
import { PostgresNotifications } from "./postgres-notifications.js";
import {
  type Int8Mode,
  type PostgresPool,
  type PostgresQueryResult,
  poolTypes,
  searchPathOption,
} from "./postgres-pool.js";
import { renderPostgres } from "./postgres-render.js";

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
  /**
   * How long a call waits for a connection (a free one, or a new one to connect) before `TIMEOUT`.
   * Default 10,000 ms.
   */
  acquireTimeoutMs?: number;
  /**
   * The deadline of every call unless the call passes its own `timeoutMs`: it covers acquiring a
   * connection, sending, the server's work and reading the answer (per fetch for a stream; each
   * statement, BEGIN and COMMIT of a transaction; inactivity of a COPY). `Infinity` turns it off.
   * Default 30,000 ms.
   */
  timeoutMs?: number;
  /**
   * After a deadline or abort, how long the server gets to confirm the cancel of a running statement
   * before the connection is destroyed and the outcome reported unknown. Default 1,000 ms.
   */
  cancelGraceMs?: number;
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
  /**
   * How often the connection of `listen()` runs `SELECT 1` when idle, so that a silent network is
   * found out (and the connection reopened) within this plus the deadline. Default 10,000 ms.
   */
  listenHeartbeatMs?: number;
}

/** A `SqlDatabase` over `pg`, with the pool as a typed escape hatch. */
export interface PostgresDatabase extends SqlDatabase {
  /** The underlying pool, for what the port does not cover (COPY TO, ...). */
  readonly pool: PostgresPool;
}

/** With a pool of the caller's, the adapter has no connection settings to open a listener with. */
const CAPABILITIES: SqlDatabaseCapabilities = Object.freeze({ returning: true, notifications: false });
const CAPABILITIES_WITH_NOTIFICATIONS: SqlDatabaseCapabilities = Object.freeze({
  returning: true,
  notifications: true,
});
const DEFAULT_BATCH = 500;
const DEFAULT_COPY_BATCH = 1_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CANCEL_GRACE_MS = 1_000;
/** PostgreSQL's limit on bound parameters in one statement. */
const MAX_PARAMETERS = 65_535;
/**
 * Sent with COMMIT in one round trip: session state a transaction set with a session-level SET
 * (`SET ROLE`, `set_config(..., false)`) would otherwise survive into the next user of the pooled
 * connection. A transaction that rolls back undoes such settings by itself.
 */
const COMMIT_AND_RESET = "COMMIT; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; RESET ROLE";
const RESET_SESSION = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; RESET ROLE";

/** The deadlines every call starts from. */
interface Defaults {
  readonly timeoutMs: number;
  readonly graceMs: number;
}

function assertPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InfrastructureError("INVALID_ARGUMENT", `${name} must be a positive number`);
  }
}

/** A deadline: a positive number of milliseconds, or `Infinity` for none. */
function assertDeadline(name: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === "number" && value > 0)) {
    throw new InfrastructureError("INVALID_ARGUMENT", `${name} must be a positive number or Infinity`);
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

/** The statements every executor offers, on top of a way to get a connection. */
abstract class PostgresExecutor {
  readonly dialect = postgresDialect;
  protected readonly defaults: Defaults;

  constructor(defaults: Defaults) {
    this.defaults = defaults;
  }

  /** Throws `CLOSED`/`CANCELLED` when the call must not start. */
  protected abstract check(options: OperationOptions | undefined, what: string): void;
  protected abstract signalFor(options: OperationOptions | undefined): AbortSignal | undefined;
  /** A connection for one call... */
  protected abstract lease(limits: CallLimits, what: string): Promise<Lease>;
  /** ...given back once it is free again. */
  protected abstract giveBack(lease: Lease): void;
  abstract transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlTransactionOptions,
  ): Promise<T>;

  /** The call's deadline starts now: the call's own `timeoutMs`, else the adapter's. */
  protected limitsFor(options: SqlQueryOptions | undefined): CallLimits {
    assertDeadline("timeoutMs", options?.timeoutMs);
    return limitsFrom(
      this.signalFor(options),
      options?.timeoutMs ?? this.defaults.timeoutMs,
      this.defaults.graceMs,
    );
  }

  query<Row = Record<string, unknown>>(query: SqlQuery, options: SqlQueryOptions = {}): Promise<Row[]> {
    return this.run(query, options, "query", "rows") as Promise<Row[]>;
  }

  queryOne<Row = Record<string, unknown>>(
    query: SqlQuery,
    options: SqlQueryOptions = {},
  ): Promise<Row | undefined> {
    return this.run(query, options, "query", "row") as Promise<Row | undefined>;
  }

  execute(query: SqlQuery, options: SqlQueryOptions = {}): Promise<SqlExecuteResult> {
    return this.run(query, options, "execute", "affected") as Promise<SqlExecuteResult>;
  }

  /** One statement, its result cut to `shape`. */
  protected run(
    query: SqlQuery,
    options: SqlQueryOptions,
    what: string,
    shape: ResultShape,
  ): Promise<unknown> {
    return this.#run(query, options, what).then((result) => shaped(result, shape));
  }

  async #run(query: SqlQuery, options: SqlQueryOptions, what: string): Promise<PostgresQueryResult> {
    this.check(options, what);
    const { text, values } = renderPostgres(query);
    const limits = this.limitsFor(options);
    for (let attempt = 1; ; attempt += 1) {
      const lease = await this.lease(limits, what);
      const autocommit = !lease.shared;
      try {
        const result = await runStatement(lease, () => lease.client.query(text, values), limits, what, {
          queued: lease.shared,
          autocommit,
        });
        // A session-level SET outside a transaction changed this pooled connection for whoever
        // gets it next: undo it before the connection goes back.
        if (autocommit && result.command === "SET") {
          await runControl(lease, RESET_SESSION, limitsFor(this.defaults), "reset session").catch(() =>
            lease.destroy(),
          );
        }
        return result;
      } catch (error) {
        // Refused by a dead connection before a byte was sent: the only case safe to run again.
        if (autocommit && attempt === 1 && neverSent(error)) continue;
        throw error;
      } finally {
        this.giveBack(lease);
      }
    }
  }

  stream<Row = Record<string, unknown>>(query: SqlQuery, options: SqlStreamOptions = {}): AsyncIterable<Row> {
    return { [Symbol.asyncIterator]: () => this.#stream<Row>(query, options) };
  }

  /** A pg-cursor portal: FETCH `batchSize` rows per round trip; the deadline bounds each fetch. */
  async *#stream<Row>(query: SqlQuery, options: SqlStreamOptions): AsyncGenerator<Row> {
    this.check(options, "stream");
    assertPositive("batchSize", options.batchSize);
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    const { text, values } = renderPostgres(query);
    const lease = await this.lease(this.limitsFor(options), "stream");
    const signal = this.signalFor(options);
    const mode = { queued: false, autocommit: !lease.shared };
    const letNextIn = await lease.acquire();
    lease.streaming = true;
    const cursor = lease.client.query(new Cursor<Row>(text, values));
    try {
      for (;;) {
        throwIfAborted(signal, "stream");
        const rows = await runStatement(
          lease,
          () => cursor.read(batchSize),
          this.limitsFor(options),
          "stream",
          mode,
        );
        if (rows.length === 0) return;
        for (const row of rows) {
          throwIfAborted(signal, "stream");
          yield row;
        }
      }
    } finally {
      // After an error pg-cursor has already synced; closing then would wait for a second
      // ReadyForQuery that never comes. A destroyed connection has nothing left to close.
      const state = (cursor as unknown as { state?: string }).state;
      if (!lease.broken && state !== "error" && state !== "done") {
        await runStatement(lease, () => cursor.close(), limitsFor(this.defaults), "close stream", mode).catch(
          () => lease.destroy(),
        );
      }
      lease.streaming = false;
      letNextIn();
      this.giveBack(lease);
    }
  }

  /**
   * One COPY FROM STDIN, inside a transaction (or savepoint) so a failure leaves nothing behind.
   * PostgreSQL refuses COPY FROM into a table whose row-level security applies to the current role:
   * there the rows go in as multi-row INSERTs, so the policy decides row by row (a refused row is
   * `PERMISSION_DENIED`, as on every other adapter) instead of the whole call being unsupported.
   */
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
    const what = `insertMany into ${describeTarget(table)}`;
    return this.transaction(
      async (tx) => {
        const transaction = tx as PostgresTransaction;
        const lease = transaction.connection;
        const guarded = await tx.queryOne<{ active: boolean }>(
          sql`SELECT row_security_active(${renderSql(target, postgresDialect).text}::regclass) AS active`,
        );
        if (guarded?.active === true) {
          return insertRows(tx, target, columnList, columns.length, rows, options.batchSize);
        }
        const statement = renderSql(sql`COPY ${target} (${columnList}) FROM STDIN`, postgresDialect).text;
        const batchSize = options.batchSize ?? DEFAULT_COPY_BATCH;
        const { signal, progress, stop } = copyWatchdog(
          lease,
          transaction.signalFor(undefined),
          this.defaults.timeoutMs,
          what,
        );
        try {
          return await lease.exclusive(() =>
            copyRows(lease.client, statement, columns.length, rows, batchSize, signal, what, progress),
          );
        } finally {
          stop();
        }
      },
      { signal: options.signal },
    );
  }
}

function limitsFor(defaults: Defaults, signal?: AbortSignal): CallLimits {
  return limitsFrom(signal, defaults.timeoutMs, defaults.graceMs);
}

/**
 * Bounds a COPY by inactivity rather than by its total time (a large COPY may rightly take long):
 * when no chunk has gone out and no answer has come for `timeoutMs`, the connection is destroyed
 * and the COPY ends with `TIMEOUT`. Inside the transaction, so nothing of it remains.
 */
function copyWatchdog(
  lease: Lease,
  outer: AbortSignal | undefined,
  timeoutMs: number,
  what: string,
): { signal: AbortSignal | undefined; progress: () => void; stop: () => void } {
  if (!Number.isFinite(timeoutMs)) return { signal: outer, progress: () => undefined, stop: () => undefined };
  const watchdog = new AbortController();
  const timer = setTimeout(() => {
    lease.destroy();
    watchdog.abort(new InfrastructureError("TIMEOUT", `${what} made no progress for ${timeoutMs} ms`));
  }, timeoutMs);
  return {
    signal: outer === undefined ? watchdog.signal : AbortSignal.any([outer, watchdog.signal]),
    progress: () => timer.refresh(),
    stop: () => clearTimeout(timer),
  };
}

/** Multi-row INSERTs of `rows`, as many per statement as the parameter limit allows. */
async function insertRows(
  tx: SqlTransaction,
  target: SqlQuery,
  columnList: SqlQuery,
  columnCount: number,
  rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
  batchSize: number | undefined,
): Promise<number> {
  const perStatement = Math.max(
    1,
    Math.min(Math.floor(batchSize ?? DEFAULT_BATCH), Math.floor(MAX_PARAMETERS / columnCount)),
  );
  let inserted = 0;
  let batch: SqlQuery[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await tx.execute(sql`INSERT INTO ${target} (${columnList}) VALUES ${sql.join(batch)}`);
    batch = [];
  };
  for await (const row of rows) {
    if (row.length !== columnCount) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `insertMany row ${inserted + 1} has ${row.length} values for ${columnCount} columns`,
      );
    }
    batch.push(sql`(${sql.join(row)})`);
    inserted += 1;
    if (batch.length >= perStatement) await flush();
  }
  await flush();
  return inserted;
}

class PostgresTransaction extends PostgresExecutor implements SqlTransaction {
  readonly connection: Lease;
  readonly #signal: AbortSignal | undefined;
  readonly #depth: number;
  #active = true;

  constructor(connection: Lease, signal: AbortSignal | undefined, depth: number, defaults: Defaults) {
    super(defaults);
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
    const control = (text: string, what: string, bySignal?: AbortSignal) =>
      runControl(this.connection, text, limitsFor(this.defaults, bySignal), what);
    await control(`SAVEPOINT ${savepoint}`, "savepoint", signal);
    const nested = new PostgresTransaction(this.connection, signal, this.#depth + 1, this.defaults);
    let result: T;
    try {
      result = await work(nested);
      throwIfAborted(signal, "transaction");
    } catch (error) {
      nested.settle();
      await control(`ROLLBACK TO SAVEPOINT ${savepoint}`, "rollback to savepoint");
      await control(`RELEASE SAVEPOINT ${savepoint}`, "release savepoint");
      if (signal?.aborted) throw cancelledError(signal, "transaction");
      throw error;
    }
    nested.settle();
    await control(`RELEASE SAVEPOINT ${savepoint}`, "release savepoint", signal);
    return result;
  }
}

class PostgresPoolDatabase extends PostgresExecutor implements PostgresDatabase {
  readonly capabilities: SqlDatabaseCapabilities;
  readonly pool: PostgresPool;
  /** Present when the adapter made the pool (it knows how to connect): LISTEN/NOTIFY. */
  readonly listen?: (
    channel: string,
    onNotification: (payload: string) => void,
    options?: SqlListenOptions,
  ) => Promise<SqlListener>;
  readonly #notifications: PostgresNotifications | undefined;
  readonly #ownsPool: boolean;
  readonly #onIdleError: (error: Error) => void;
  /** Every connection the pool opened, until its socket is gone: `close()` waits for them. */
  readonly #sockets = new Map<Socket, Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(
    pool: PostgresPool,
    ownsPool: boolean,
    onIdleError: ((error: InfrastructureError) => void) | undefined,
    defaults: Defaults,
    notifications?: PostgresNotifications,
  ) {
    super(defaults);
    this.pool = pool;
    this.#ownsPool = ownsPool;
    this.#notifications = notifications;
    this.capabilities = notifications === undefined ? CAPABILITIES : CAPABILITIES_WITH_NOTIFICATIONS;
    if (notifications !== undefined) {
      this.listen = async (channel, onNotification, options = {}) => {
        this.check(options, "listen");
        return notifications.listen(channel, onNotification, options);
      };
    }
    // Stays attached after close(): an idle connection that dies while the pool ends (a server
    // shutdown, a terminated backend) must not become an uncaught 'error' event.
    this.#onIdleError = (error) => {
      if (this.#closing === undefined) onIdleError?.(mapPostgresError(error, "idle connection"));
    };
    pool.on("error", this.#onIdleError);
    if (ownsPool) (pool as unknown as pg.Pool).on("connect", (client) => this.#track(client));
  }

  #track(client: pg.Client): void {
    const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
    // A checked-out pg client has no 'error' listener of pg-pool's: without this one a dropped socket
    // would crash the process. The hot path adds none of its own (the failed statement reports the
    // error), and errors after the pool let go of the client (while it ends) have no one left to tell.
    client.on("error", () => undefined);
    if (stream === undefined || stream.destroyed) return;
    const gone = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    this.#sockets.set(stream, gone);
    void gone.then(() => this.#sockets.delete(stream));
  }

  protected check(options: OperationOptions | undefined, what: string): void {
    if (this.#closing !== undefined) throw closedError(`PostgreSQL database (${what})`);
    throwIfAborted(options?.signal, what);
  }

  protected signalFor(options: OperationOptions | undefined): AbortSignal | undefined {
    return options?.signal;
  }

  protected async lease(limits: CallLimits, what: string): Promise<Lease> {
    return new Lease(await acquireWithin(this.pool, limits, what));
  }

  protected giveBack(lease: Lease): void {
    lease.release();
  }

  /** On a pool the adapter made (a real `pg.Pool`), a plain statement takes the hot path. */
  protected override run(
    query: SqlQuery,
    options: SqlQueryOptions,
    what: string,
    shape: ResultShape,
  ): Promise<unknown> {
    if (!this.#ownsPool) return super.run(query, options, what, shape);
    try {
      this.check(options, what);
      const { text, values } = renderPostgres(query);
      const statement = new PooledStatement(
        this.pool as unknown as CallbackPool,
        text,
        values,
        this.limitsFor(options),
        what,
        shape,
        this.#resetSession,
      );
      return statement.run();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  readonly #resetSession = (client: CallbackClient): Promise<void> => {
    const lease = new Lease(client);
    return runControl(lease, RESET_SESSION, limitsFor(this.defaults), "reset session").then(
      () => lease.release(),
      () => {
        lease.destroy();
        lease.release();
      },
    );
  };

  async ping(options: OperationOptions = {}): Promise<void> {
    await this.query(sql`SELECT 1`, options);
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlTransactionOptions = {},
  ): Promise<T> {
    this.check(options, "transaction");
    const { signal } = options;
    const lease = await this.lease(limitsFor(this.defaults, signal), "transaction");
    try {
      lease.shared = true;
      await runControl(lease, beginStatement(options), limitsFor(this.defaults, signal), "begin transaction");
      const tx = new PostgresTransaction(lease, signal, 1, this.defaults);
      let result: T;
      try {
        result = await work(tx);
        throwIfAborted(signal, "transaction");
      } catch (error) {
        tx.settle();
        // A connection that could not roll back may still be inside the transaction: never reuse it.
        await runControl(lease, "ROLLBACK", limitsFor(this.defaults), "rollback").catch(() =>
          lease.destroy(),
        );
        if (signal?.aborted) throw cancelledError(signal, "transaction");
        throw error;
      }
      tx.settle();
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK and no error.
      const tag = await runControl(lease, COMMIT_AND_RESET, limitsFor(this.defaults, signal), "commit", {
        commit: true,
      });
      if (tag === "ROLLBACK") {
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
    if (this.#closing === undefined) this.#closing = this.#shutDown();
    return this.#closing;
  }

  /**
   * Ends the pool, then waits until every socket it opened is closed: pg's `end()` resolves as soon
   * as it has asked each connection to end. A socket the server does not close within the grace
   * period (a silent network) is destroyed.
   */
  async #shutDown(): Promise<void> {
    await this.#notifications?.close();
    if (!this.#ownsPool) return;
    await this.pool.end();
    const sockets = [...this.#sockets.values()];
    if (sockets.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.defaults.graceMs);
    });
    const outcome = await Promise.race([Promise.all(sockets), late]);
    clearTimeout(timer);
    if (outcome === "late") for (const socket of this.#sockets.keys()) socket.destroy();
    await Promise.all(sockets);
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
  assertDeadline("timeoutMs", options.timeoutMs);
  assertPositive("cancelGraceMs", options.cancelGraceMs);
  assertPositive("listenHeartbeatMs", options.listenHeartbeatMs);
  const defaults: Defaults = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    graceMs: options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS,
  };
  if (options.pool !== undefined) {
    return new PostgresPoolDatabase(options.pool, false, options.onIdleError, defaults);
  }
  const connection: pg.ClientConfig = {
    connectionString: options.connectionString,
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    ssl: options.ssl,
    application_name: options.applicationName,
  };
  const pool = new pg.Pool({
    ...connection,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    statement_timeout: options.statementTimeoutMs,
    options: options.schema === undefined ? undefined : searchPathOption(options.schema),
    types: poolTypes(options.int8 ?? "string"),
  });
  const notifications = new PostgresNotifications(connection, {
    // Connecting and each LISTEN are bounded like a pool connection and a call.
    timeoutMs: Math.min(options.acquireTimeoutMs ?? 10_000, defaults.timeoutMs),
    graceMs: defaults.graceMs,
    heartbeatMs: options.listenHeartbeatMs ?? 10_000,
  });
  return new PostgresPoolDatabase(pool, true, options.onIdleError, defaults, notifications);
}
