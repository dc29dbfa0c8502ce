import {
  closedError,
  InfrastructureError,
  type OperationOptions,
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
import { isClosedSocket, mapMysqlError } from "./map-mysql-error.js";
import { type ExecutorRuntime, MysqlExecutor } from "./mysql-executor.js";
import { StatementKiller } from "./mysql-killer.js";
import { Lease } from "./mysql-lease.js";
import { MysqlTransaction, runTransaction } from "./mysql-transaction.js";
import { booleanTypeCast, describeServer, type ServerInfo } from "./mysql-values.js";

/** Settings the adapter owns, because the port's type and time rules depend on them. */
type ManagedOption =
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
  /** How long a call waits for a free connection before `TIMEOUT`. Default 10,000 ms. */
  acquireTimeoutMs?: number;
  /** Server-side limit for every statement unless a call sets `timeoutMs`; 0 = none (default). */
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

async function control(lease: Lease, text: string): Promise<void> {
  try {
    await lease.send(text);
  } catch (error) {
    throw mapMysqlError(error, { what: `MySQL ${text}` });
  }
}

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

class MysqlDatabaseImpl extends MysqlExecutor implements MysqlDatabase {
  readonly capabilities: SqlDatabaseCapabilities;
  #closing: Promise<void> | undefined;

  constructor(
    runtime: ExecutorRuntime,
    readonly pool: Pool,
    private readonly gate: ConnectionGate,
    private readonly serverInfo: () => ServerInfo | undefined,
    returning: boolean | undefined,
    private readonly onClose: () => void,
  ) {
    super(runtime);
    this.capabilities = {
      get returning() {
        return returning ?? serverInfo()?.returning ?? false;
      },
    };
  }

  get server(): ServerInfo | undefined {
    return this.serverInfo();
  }

  /**
   * A connection the server dropped while idle (restart, KILL, wait_timeout) can still be handed
   * out before its socket's close is read. The statement then fails without having reached a
   * server thread, so it is run once more on another connection.
   */
  protected async withLease<T>(
    signal: AbortSignal | undefined,
    use: (lease: Lease) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const lease = await this.runtime.acquire(signal);
      try {
        return await use(lease);
      } catch (error) {
        if (attempt > 1 || !lease.reused || !isClosedSocket(error)) throw error;
        lease.destroy();
      } finally {
        lease.release();
      }
    }
  }

  protected openStreamLease(signal: AbortSignal | undefined): Promise<Lease> {
    return this.runtime.acquire(signal);
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
        await control(candidate, `SET TRANSACTION ${characteristics.join(", ")}`);
      await control(candidate, "START TRANSACTION");
    });
    const root = { lease, savepoints: 0, endedBy: undefined };
    const tx = new MysqlTransaction(this.runtime, root);
    try {
      return await runTransaction(this.runtime, root, tx, work, signal, {
        commit: () => control(lease, "COMMIT"),
        rollback: () => control(lease, "ROLLBACK"),
      });
    } finally {
      if (root.endedBy) lease.destroy();
      else lease.release();
    }
  }

  /** Like `withLease`, for a transaction that keeps its connection after `begin`. */
  private async beginOnLease(
    signal: AbortSignal | undefined,
    begin: (lease: Lease) => Promise<void>,
  ): Promise<Lease> {
    for (let attempt = 1; ; attempt += 1) {
      const lease = await this.runtime.acquire(signal);
      try {
        await begin(lease);
        return lease;
      } catch (error) {
        lease.destroy();
        if (attempt > 1 || !lease.reused || !isClosedSocket(error)) throw error;
      }
    }
  }

  async ping(options?: OperationOptions): Promise<void> {
    if (this.runtime.isClosed()) throw closedError("MySQL database");
    await this.withLease(options?.signal, async (lease) => {
      try {
        await lease.ping();
      } catch (error) {
        throw mapMysqlError(error, { what: "MySQL ping" });
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.onClose();
      this.gate.close();
      try {
        await this.pool.end();
      } catch {
        // Connections that were already broken cannot be ended politely; they are gone either way.
      }
    })();
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
  const statementTimeoutMs = positive("statementTimeoutMs", options.statementTimeoutMs, 0, true);
  const connectTimeout = positive("connectTimeoutMs", options.connectTimeoutMs, 10_000);
  const connection: ConnectionOptions = {
    ...(options.uri ? parseUri(options.uri) : {}),
    ...options.connection,
    ...(options.database === undefined ? {} : { database: options.database }),
    connectTimeout,
    // Values round-trip unchanged: DATETIME/TIMESTAMP are read and written as UTC, BIGINT and
    // DECIMAL come back as exact strings, BOOLEAN (TINYINT(1)) as boolean.
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: false,
    typeCast: booleanTypeCast,
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
  pool.pool.on("connection", (fresh: CorePoolConnection) => {
    // A connection the server drops while idle emits 'error'; mysql2 removes it from the pool,
    // and this listener keeps that from becoming an unhandled 'error' event.
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
  });

  let closed = false;
  const gate = new ConnectionGate(poolSize, acquireTimeoutMs);
  const used = new WeakSet<object>();
  const runtime: ExecutorRuntime = {
    killer: new StatementKiller(connection),
    statementTimeoutMs,
    isClosed: () => closed,
    acquire: async (signal) => {
      await gate.acquire(signal);
      try {
        const core = await new Promise<CorePoolConnection>((resolve, reject) =>
          pool.pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
        );
        const reused = used.has(core);
        used.add(core);
        return new Lease(core, reused, () => gate.release());
      } catch (error) {
        gate.release();
        if (closed) throw closedError("MySQL database");
        throw mapMysqlError(error, { what: `Connecting to MySQL at ${endpoint}` });
      }
    },
  };

  return new MysqlDatabaseImpl(
    runtime,
    pool,
    gate,
    () => server,
    options.returning,
    () => {
      closed = true;
    },
  );
}
