import {
  closedError,
  InfrastructureError,
  isInfrastructureError,
  type OperationOptions,
  outcomeUnknownError,
  type SqlDatabase,
  type SqlDatabaseCapabilities,
  type SqlIsolationLevel,
  type SqlTransaction,
  type SqlTransactionOptions,
  throwIfAborted,
} from "@proj/ports";
import type { ConnectionOptions, PoolConnection as CorePoolConnection, PoolOptions } from "mysql2";
import { createPool, type Pool } from "mysql2/promise";
import { ConnectionGate } from "./connection-gate.js";
import { hasServerReply, mapMysqlError } from "./map-mysql-error.js";
import { checkTimeout, deadlineOf, type ExecutorRuntime, MysqlExecutor } from "./mysql-executor.js";
import { StatementKiller } from "./mysql-killer.js";
import { type Lease, NotSentError } from "./mysql-lease.js";
import { LeasePool } from "./mysql-pool.js";
import { KILL_GRACE_MS, Supervision, sendControl } from "./mysql-supervision.js";
import { MysqlTransaction, runTransaction } from "./mysql-transaction.js";
import { describeServer, type ServerInfo } from "./mysql-values.js";

/** Settings the adapter owns, because the port's type and time rules depend on them. */
export type ManagedOption =
  | "uri"
  | "database"
  | "timezone"
  | "typeCast"
  | "supportBigNumbers"
  | "bigNumberStrings"
  | "decimalNumbers"
  | "dateStrings"
  | "jsonStrings"
  | "multipleStatements"
  | "namedPlaceholders"
  | "rowsAsArray"
  | "nestTables"
  | "connectTimeout"
  | "maxPreparedStatements";

/** Where and how to connect, as mysql2 takes it (host, port, user, password, ssl, socketPath…). */
export type MysqlConnectionOptions = Omit<ConnectionOptions, ManagedOption>;

export interface MysqlDatabaseOptions {
  /** `mysql://user:password@host:port/database`. Settings in `connection` override it. */
  uri?: string;
  connection?: MysqlConnectionOptions;
  /** Default database (schema) of every connection; overrides the one in `uri`. */
  database?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /**
   * Deadline of every call that sets no `timeoutMs` of its own: waiting for a connection, sending,
   * the server's work and the reply (for a stream, each wait for the next rows; in a transaction,
   * each statement and the COMMIT). Past it the statement is stopped on the server and the call
   * rejects with `TIMEOUT` within 2 s more. Default 30,000 ms; `Infinity` for none.
   */
  timeoutMs?: number;
  /** How long a call waits for a free connection before `TIMEOUT`. Default 10,000 ms. */
  acquireTimeoutMs?: number;
  /**
   * @deprecated The former name of `timeoutMs`, still read when `timeoutMs` is not set; its old
   * `0` ("no limit") now means the default deadline.
   */
  statementTimeoutMs?: number;
  /** Limit for opening a connection. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** Idle connections are closed after this long. Default 60,000 ms. */
  idleTimeoutMs?: number;
  /** Prepared statements kept per connection (the server caps them all together). Default 256. */
  maxPreparedStatements?: number;
  /**
   * Pins `capabilities.returning`. Without it the adapter reads the server version when it opens
   * its first connection: until then (before the first call or `ping()`) it reports `false`.
   */
  returning?: boolean;
}

/** The SQL port over MySQL or MariaDB, plus what only this adapter has. */
export interface MysqlDatabase extends SqlDatabase {
  /** The server's `VERSION()` and what the adapter derived from it; known once a connection opened. */
  readonly server: ServerInfo | undefined;
  /** Escape hatch: the underlying mysql2 promise pool, for what the port does not cover. */
  readonly pool: Pool;
}

const ISOLATION: Record<SqlIsolationLevel, string> = {
  "read committed": "READ COMMITTED",
  "repeatable read": "REPEATABLE READ",
  serializable: "SERIALIZABLE",
};

function parseUri(uri: string): ConnectionOptions {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (error) {
    throw new InfrastructureError("INVALID_ARGUMENT", "MySQL uri is not a valid URL", { cause: error });
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:") {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `MySQL uri must start with mysql://, not ${url.protocol}//`,
    );
  }
  const options: ConnectionOptions = { host: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, "")) };
  if (url.port) options.port = Number(url.port);
  if (url.username) options.user = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  const database = decodeURIComponent(url.pathname.slice(1));
  if (database) options.database = database;
  return options;
}

/** MariaDB's CURRENT_ROLE() is the bare role name, or NULL. */
function roleStatement(role: string | null | undefined): string {
  return role ? `SET ROLE \`${role.replaceAll("`", "``")}\`` : "SET ROLE NONE";
}

/** The deadline of a call that sets none. */
const DEFAULT_TIMEOUT_MS = 30_000;

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < (allowZero ? 0 : 1)) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `${name} must be a ${allowZero ? "non-negative" : "positive"} integer`,
    );
  }
  return chosen;
}

/** Retries of a statement that provably never left: the pool may hand out several dead connections. */
const MAX_UNSENT_RETRIES = 3;

class MysqlDatabaseImpl extends MysqlExecutor implements MysqlDatabase {
  readonly capabilities: SqlDatabaseCapabilities;
  #closing: Promise<void> | undefined;

  constructor(
    runtime: ExecutorRuntime,
    readonly pool: Pool,
    private readonly serverInfo: () => ServerInfo | undefined,
    returning: boolean | undefined,
    private readonly onClose: () => Promise<void>,
  ) {
    super(runtime);
    this.capabilities = {
      get returning() {
        return returning ?? serverInfo()?.returning ?? false;
      },
      // MySQL has no LISTEN/NOTIFY: no listen().
      notifications: false,
    };
  }

  get server(): ServerInfo | undefined {
    return this.serverInfo();
  }

  /**
   * A statement is sent once. It runs again, on another connection, only when the connection was
   * found closed before anything was written: a connection lost after the statement went out
   * may have applied it, and the call reports that outcome as unknown instead.
   */
  protected async withLease<T>(
    signal: AbortSignal | undefined,
    deadline: number,
    use: (lease: Lease) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const lease = await this.runtime.acquire(signal, deadline);
      try {
        return await use(lease);
      } catch (error) {
        if (!(error instanceof NotSentError)) throw error;
        lease.destroy();
        if (attempt >= MAX_UNSENT_RETRIES) throw mapMysqlError(error, { what: "MySQL statement" });
      } finally {
        lease.release();
      }
    }
  }

  /** The statement went out and no answer came: it may have run. */
  protected unanswered(failure: InfrastructureError): InfrastructureError {
    const code = failure.code === "TIMEOUT" || failure.code === "CANCELLED" ? failure.code : "UNAVAILABLE";
    return outcomeUnknownError(code, `${failure.message} (the statement may or may not have run)`, {
      cause: failure.cause,
      details: failure.details,
    });
  }

  protected openStreamLease(signal: AbortSignal | undefined, deadline: number): Promise<Lease> {
    return this.runtime.acquire(signal, deadline);
  }

  protected closeStreamLease(lease: Lease): void {
    lease.release();
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlTransactionOptions,
  ): Promise<T> {
    if (this.runtime.isClosed()) throw closedError("MySQL database");
    const signal = options?.signal;
    throwIfAborted(signal, "MySQL transaction");
    const characteristics = [
      ...(options?.isolationLevel ? [`ISOLATION LEVEL ${ISOLATION[options.isolationLevel]}`] : []),
      ...(options?.readOnly ? ["READ ONLY"] : []),
    ];
    const lease = await this.beginOnLease(signal, async (candidate) => {
      // SET TRANSACTION (without SESSION) applies to the next transaction only.
      if (characteristics.length > 0)
        await sendControl(this.runtime, candidate, `SET TRANSACTION ${characteristics.join(", ")}`, signal);
      await sendControl(this.runtime, candidate, "START TRANSACTION", signal);
    });
    const root = { lease, savepoints: 0, endedBy: undefined };
    const tx = new MysqlTransaction(this.runtime, root);
    try {
      return await runTransaction(this.runtime, root, tx, work, signal, {
        commit: () => this.commit(lease, signal),
        rollback: () => sendControl(this.runtime, lease, "ROLLBACK"),
      });
    } finally {
      // Whatever the callback set on the session (variables, role, temporary tables) must not
      // reach the next caller of this connection.
      if (root.endedBy) lease.destroy();
      else await lease.recycle();
    }
  }

  /**
   * COMMIT under the adapter's deadline and the transaction's signal. A COMMIT that went out and
   * got no answer (lost reply, deadline, abort) may have committed: outcome unknown, not retryable.
   */
  private async commit(lease: Lease, signal: AbortSignal | undefined): Promise<void> {
    try {
      await sendControl(this.runtime, lease, "COMMIT", signal);
    } catch (error) {
      if (!isInfrastructureError(error)) throw error;
      const interrupted = error.code === "TIMEOUT" || error.code === "CANCELLED";
      if (error.cause instanceof NotSentError || (hasServerReply(error.cause) && !interrupted)) throw error;
      lease.destroy();
      throw outcomeUnknownError(
        interrupted ? (error.code as "TIMEOUT" | "CANCELLED") : "UNAVAILABLE",
        `${error.message} (the transaction may or may not have committed)`,
        { cause: error.cause, details: error.details },
      );
    }
  }

  /**
   * Takes a connection and begins on it. Beginning again on another connection is safe whatever
   * reached the server: the first connection is destroyed, and the server discards its transaction.
   */
  private async beginOnLease(
    signal: AbortSignal | undefined,
    begin: (lease: Lease) => Promise<void>,
  ): Promise<Lease> {
    const deadline = deadlineOf(undefined, this.runtime.timeoutMs);
    for (let attempt = 1; ; attempt += 1) {
      const lease = await this.runtime.acquire(signal, deadline);
      try {
        await begin(lease);
        return lease;
      } catch (error) {
        lease.destroy();
        const lost =
          isInfrastructureError(error) && error.code === "UNAVAILABLE" && !hasServerReply(error.cause);
        if (attempt > 1 || !lost) throw error;
      }
    }
  }

  async ping(options?: OperationOptions): Promise<void> {
    if (this.runtime.isClosed()) throw closedError("MySQL database");
    const signal = options?.signal;
    const deadline = deadlineOf(undefined, this.runtime.timeoutMs);
    await this.withLease(signal, deadline, async (lease) => {
      const supervision = new Supervision(
        this.runtime,
        lease,
        () => "MySQL ping",
        signal,
        deadline - Date.now(),
      );
      try {
        await lease.ping();
      } catch (error) {
        if (error instanceof NotSentError) throw error;
        throw supervision.failure(error);
      } finally {
        await supervision.settle();
      }
    });
  }

  /** Resolves once every connection's socket is closed; nothing the server does afterwards can throw. */
  close(): Promise<void> {
    this.#closing ??= this.onClose();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A pool on MySQL 8 or MariaDB. Nothing connects until the first call (`ping()` checks that the
 * server answers); the first connection also reads the server version, which tells whether
 * `INSERT ... RETURNING` exists.
 */
export function createMysqlDatabase(options: MysqlDatabaseOptions): MysqlDatabase {
  const poolSize = positive("poolSize", options.poolSize, 10);
  const acquireTimeoutMs = positive("acquireTimeoutMs", options.acquireTimeoutMs, 10_000);
  const timeoutMs = checkTimeout(
    "timeoutMs",
    options.timeoutMs ?? (options.statementTimeoutMs || DEFAULT_TIMEOUT_MS),
  );
  const connectTimeout = positive("connectTimeoutMs", options.connectTimeoutMs, 10_000);
  const connection: ConnectionOptions = {
    ...(options.uri ? parseUri(options.uri) : {}),
    ...options.connection,
    ...(options.database === undefined ? {} : { database: options.database }),
    connectTimeout,
    // Values round-trip unchanged: DATETIME/TIMESTAMP are read and written as UTC, BIGINT and
    // DECIMAL come back as exact strings. BOOLEAN (TINYINT(1)) is read as boolean by the adapter
    // from each result's column metadata (mysql-values.ts): a typeCast function here would cost
    // a wrapper object and two calls per value of every column of every row.
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: false,
    typeCast: true,
    multipleStatements: false,
    namedPlaceholders: false,
    maxPreparedStatements: positive("maxPreparedStatements", options.maxPreparedStatements, 256),
  };
  const endpoint = connection.socketPath ?? `${connection.host ?? "localhost"}:${connection.port ?? 3306}`;
  const poolOptions: PoolOptions = {
    ...connection,
    connectionLimit: poolSize,
    maxIdle: poolSize,
    idleTimeout: positive("idleTimeoutMs", options.idleTimeoutMs, 60_000),
    waitForConnections: true,
    queueLimit: 0,
  };
  const pool = createPool(poolOptions);
  let server: ServerInfo | undefined;
  const loginRoles = new WeakMap<CorePoolConnection, string | null>();
  pool.pool.on("connection", (fresh: CorePoolConnection) => {
    // A connection the server drops while idle emits 'error'; mysql2 removes it from the pool,
    // and this listener keeps that from becoming an unhandled 'error' event, also after close().
    fresh.on("error", () => {});
    // TIMESTAMP columns convert through the session time zone: UTC keeps them equal to what was
    // written. Queued before the caller's first statement on this connection.
    fresh.query("SET time_zone = '+00:00'", () => {});
    // Also queued first, so the capabilities are known when the first call resolves.
    if (server === undefined) {
      fresh.query("SELECT VERSION() AS version", (error, rows) => {
        const version = (rows as Array<{ version?: unknown }> | undefined)?.[0]?.version;
        if (!error && typeof version === "string") server ??= describeServer(version);
      });
    }
    // MariaDB's COM_RESET_CONNECTION keeps the role a session set: the login role is what a
    // released connection goes back to.
    fresh.query("SELECT CURRENT_ROLE() AS role", (error, rows) => {
      const role = (rows as Array<{ role?: unknown }> | undefined)?.[0]?.role;
      if (!error) loginRoles.set(fresh, typeof role === "string" ? role : null);
    });
  });

  let closed = false;
  const gate = new ConnectionGate(poolSize, acquireTimeoutMs);
  const leases = new LeasePool(pool.pool, gate, endpoint, (core) => [
    server?.flavor === "mysql" ? "SET ROLE DEFAULT" : roleStatement(loginRoles.get(core)),
    "SET time_zone = '+00:00'",
  ]);
  const killer = new StatementKiller(connection, KILL_GRACE_MS);
  const runtime: ExecutorRuntime = {
    killer,
    timeoutMs,
    isClosed: () => closed,
    acquire: (signal, deadline) => leases.acquire(signal, deadline),
  };

  return new MysqlDatabaseImpl(
    runtime,
    pool,
    () => server,
    options.returning,
    async () => {
      closed = true;
      gate.close();
      await leases.close(timeoutMs);
      await killer.close();
    },
  );
}
