import { PGlite, type QueryOptions } from "@electric-sql/pglite";
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
  validateSqlChannel,
} from "@proj/ports";
import { mapPgliteError } from "./map-pglite-error.js";
import { type DataDirLock, lockDataDir } from "./pglite-data-dir-lock.js";
import { type SessionQueue, sessionQueueOf } from "./pglite-session.js";

export interface PgliteDatabaseOptions {
  /**
   * Where the database lives: a folder path (kept across restarts) or `memory://` (the default,
   * gone on close). Ignored when `pglite` is given.
   */
  dataDir?: string;
  /**
   * An instance you created yourself (with extensions, say). Adapters sharing one instance share
   * its session queue; `close()` leaves the instance open: whoever made it closes it.
   */
  pglite?: PGlite;
  /** Schema put first on the search path for every call, created when missing. */
  schema?: string;
  /** How BIGINT (int8) columns come back. Default `"string"`: no silent precision loss. */
  int8?: "string" | "bigint" | "number";
  /** How long a call waits for the single session before `TIMEOUT`. Default 10,000 ms. */
  acquireTimeoutMs?: number;
}

/** A `SqlDatabase` over PGlite, with the instance as a typed escape hatch. */
export interface PgliteDatabase extends SqlDatabase {
  /** The underlying instance, for what the port does not cover (extensions, dumps). */
  readonly pglite: PGlite;
}

const CAPABILITIES: SqlDatabaseCapabilities = Object.freeze({ returning: true, notifications: true });
const DEFAULT_BATCH = 500;
/** PostgreSQL's bind message counts parameters in 16 bits. */
const MAX_PARAMETERS = 65_535;
const INT8 = 20;

let cursorCount = 0;

function assertPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InfrastructureError("INVALID_ARGUMENT", `${name} must be a positive number`);
  }
}

function beginStatement(options: SqlTransactionOptions): string {
  const parts = ["BEGIN"];
  if (options.isolationLevel !== undefined) {
    parts.push(`ISOLATION LEVEL ${sqlIsolationLevel(options.isolationLevel)}`);
  }
  if (options.readOnly === true) parts.push("READ ONLY");
  return parts.join(" ");
}

/** Per-query parsers: the instance may be shared, so its own parsers are left alone. */
function queryOptions(int8: PgliteDatabaseOptions["int8"]): QueryOptions {
  const parse =
    int8 === "bigint"
      ? (text: string) => BigInt(text)
      : int8 === "number"
        ? (text: string) => Number(text)
        : (text: string) => text;
  return { parsers: { [INT8]: parse } };
}

/** A statement of the adapter's own (BEGIN, SAVEPOINT, COMMIT...). */
async function control(pglite: PGlite, text: string, what: string): Promise<string | undefined> {
  try {
    const result = await pglite.query(text);
    return (result as { command?: string }).command;
  } catch (error) {
    throw mapPgliteError(error, what);
  }
}

/** The session a call runs in, and how to hand it back. */
interface Session {
  pglite: PGlite;
  done(): void;
}

abstract class PgliteExecutor {
  readonly dialect = postgresDialect;
  protected readonly options: QueryOptions;

  constructor(options: QueryOptions) {
    this.options = options;
  }

  /** Throws `CLOSED`/`CANCELLED` when the call must not start. */
  protected abstract check(options: OperationOptions | undefined, what: string): void;
  protected abstract signalFor(options: OperationOptions | undefined): AbortSignal | undefined;
  protected abstract open(
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    what: string,
  ): Promise<Session>;
  /** True inside a transaction: a stream then needs no transaction of its own. */
  protected abstract readonly inTransaction: boolean;
  abstract transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlTransactionOptions,
  ): Promise<T>;

  async query<Row = Record<string, unknown>>(query: SqlQuery, options: SqlQueryOptions = {}): Promise<Row[]> {
    const result = await this.#run(query, options, "query");
    return result.rows as Row[];
  }

  async queryOne<Row = Record<string, unknown>>(
    query: SqlQuery,
    options: SqlQueryOptions = {},
  ): Promise<Row | undefined> {
    const result = await this.#run(query, options, "query");
    return result.rows[0] as Row | undefined;
  }

  async execute(query: SqlQuery, options: SqlQueryOptions = {}): Promise<SqlExecuteResult> {
    const result = await this.#run(query, options, "execute");
    return { affectedRows: result.affectedRows ?? 0 };
  }

  /**
   * A statement runs to its end once started: PGlite executes it synchronously inside this
   * process, so `timeoutMs` and the signal only bound the wait for the session.
   */
  async #run(query: SqlQuery, options: SqlQueryOptions, what: string) {
    this.check(options, what);
    const { text, values } = renderSql(query, postgresDialect);
    const signal = this.signalFor(options);
    const session = await this.open(signal, options.timeoutMs, what);
    try {
      throwIfAborted(signal, what);
      return await session.pglite.query<Record<string, unknown>>(text, values, this.options);
    } catch (error) {
      throw mapPgliteError(error, what);
    } finally {
      session.done();
    }
  }

  stream<Row = Record<string, unknown>>(query: SqlQuery, options: SqlStreamOptions = {}): AsyncIterable<Row> {
    return { [Symbol.asyncIterator]: () => this.#stream<Row>(query, options) };
  }

  /** DECLARE ... CURSOR, then FETCH `batchSize` rows at a time: memory holds one batch. */
  async *#stream<Row>(query: SqlQuery, options: SqlStreamOptions): AsyncGenerator<Row> {
    this.check(options, "stream");
    assertPositive("batchSize", options.batchSize);
    const batchSize = Math.floor(options.batchSize ?? DEFAULT_BATCH);
    const { text, values } = renderSql(query, postgresDialect);
    const signal = this.signalFor(options);
    const session = await this.open(signal, options.timeoutMs, "stream");
    const ownTransaction = !this.inTransaction;
    cursorCount += 1;
    const cursor = `proj_cursor_${cursorCount}`;
    let declared = false;
    try {
      if (ownTransaction) await control(session.pglite, "BEGIN", "stream");
      try {
        await session.pglite.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${text}`, values);
        declared = true;
      } catch (error) {
        throw mapPgliteError(error, "stream");
      }
      for (;;) {
        throwIfAborted(signal, "stream");
        let rows: Row[];
        try {
          rows = (await session.pglite.query<Row>(`FETCH ${batchSize} FROM ${cursor}`, [], this.options))
            .rows;
        } catch (error) {
          throw mapPgliteError(error, "stream");
        }
        if (rows.length === 0) return;
        for (const row of rows) {
          throwIfAborted(signal, "stream");
          yield row;
        }
      }
    } finally {
      // COMMIT ends the cursor with the transaction (and only rolls back if a statement failed).
      if (ownTransaction) await session.pglite.query("COMMIT").catch(() => undefined);
      else if (declared) await session.pglite.query(`CLOSE ${cursor}`).catch(() => undefined);
      session.done();
    }
  }

  /** Multi-row INSERTs inside a transaction (or a savepoint), so a failure leaves nothing behind. */
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
    const head = sql`INSERT INTO ${target} (${sql.join(columns.map((column) => sql.id(column)))}) VALUES `;
    const perStatement = Math.max(
      1,
      Math.min(Math.floor(options.batchSize ?? DEFAULT_BATCH), Math.floor(MAX_PARAMETERS / columns.length)),
    );
    return this.transaction(
      async (tx) => {
        let inserted = 0;
        let batch: SqlQuery[] = [];
        const flush = async (): Promise<void> => {
          if (batch.length === 0) return;
          await tx.execute(sql`${head}${sql.join(batch)}`);
          batch = [];
        };
        for await (const row of rows) {
          if (row.length !== columns.length) {
            throw new InfrastructureError(
              "INVALID_ARGUMENT",
              `insertMany row ${inserted + 1} has ${row.length} values for ${columns.length} columns`,
            );
          }
          batch.push(sql`(${sql.join(row)})`);
          inserted += 1;
          if (batch.length >= perStatement) await flush();
        }
        await flush();
        return inserted;
      },
      { signal: options.signal },
    );
  }
}

class PgliteTransaction extends PgliteExecutor implements SqlTransaction {
  protected readonly inTransaction = true;
  readonly #pglite: PGlite;
  readonly #signal: AbortSignal | undefined;
  readonly #depth: number;
  #active = true;

  constructor(pglite: PGlite, options: QueryOptions, signal: AbortSignal | undefined, depth: number) {
    super(options);
    this.#pglite = pglite;
    this.#signal = signal;
    this.#depth = depth;
  }

  settle(): void {
    this.#active = false;
  }

  protected check(options: OperationOptions | undefined, what: string): void {
    if (!this.#active) throw closedError(`transaction (${what} after it settled)`);
    throwIfAborted(this.#signal, what);
    throwIfAborted(options?.signal, what);
  }

  protected signalFor(options: OperationOptions | undefined): AbortSignal | undefined {
    const signals = [this.#signal, options?.signal].filter((signal) => signal !== undefined);
    return signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  }

  protected async open(): Promise<Session> {
    // The transaction already holds the session; its statements run in order on it.
    return { pglite: this.#pglite, done: () => undefined };
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlTransactionOptions = {},
  ): Promise<T> {
    this.check(options, "transaction");
    const savepoint = `sp_${this.#depth}`;
    const signal = this.signalFor(options);
    await control(this.#pglite, `SAVEPOINT ${savepoint}`, "savepoint");
    const nested = new PgliteTransaction(this.#pglite, this.options, signal, this.#depth + 1);
    let result: T;
    try {
      result = await work(nested);
      throwIfAborted(signal, "transaction");
    } catch (error) {
      nested.settle();
      await control(this.#pglite, `ROLLBACK TO SAVEPOINT ${savepoint}`, "rollback to savepoint");
      await control(this.#pglite, `RELEASE SAVEPOINT ${savepoint}`, "release savepoint");
      if (signal?.aborted) throw cancelledError(signal, "transaction");
      throw error;
    }
    nested.settle();
    await control(this.#pglite, `RELEASE SAVEPOINT ${savepoint}`, "release savepoint");
    return result;
  }
}

class PgliteSqlDatabase extends PgliteExecutor implements PgliteDatabase {
  readonly capabilities = CAPABILITIES;
  readonly pglite: PGlite;
  protected readonly inTransaction = false;
  readonly #owns: boolean;
  readonly #queue: SessionQueue;
  readonly #schema: string | undefined;
  readonly #acquireTimeoutMs: number;
  readonly #lock: DataDirLock | undefined;
  /** Open listeners: the PGlite callback of each, and its quoted channel (to UNLISTEN on close). */
  readonly #listeners = new Map<(payload: string) => void, { quoted: string; stop(): void }>();
  #closing: Promise<void> | undefined;

  constructor(pglite: PGlite, owns: boolean, options: PgliteDatabaseOptions, lock?: DataDirLock) {
    super(queryOptions(options.int8));
    this.#lock = lock;
    this.pglite = pglite;
    this.#owns = owns;
    this.#queue = sessionQueueOf(pglite);
    this.#schema = options.schema;
    this.#acquireTimeoutMs = options.acquireTimeoutMs ?? 10_000;
  }

  protected check(options: OperationOptions | undefined, what: string): void {
    if (this.#closing !== undefined) throw closedError(`PGlite database (${what})`);
    throwIfAborted(options?.signal, what);
  }

  protected signalFor(options: OperationOptions | undefined): AbortSignal | undefined {
    return options?.signal;
  }

  /** Waits for the session (bounded by `timeoutMs` when shorter), then points it at our schema. */
  protected async open(
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    what: string,
  ): Promise<Session> {
    const wait = Math.min(timeoutMs ?? Number.POSITIVE_INFINITY, this.#acquireTimeoutMs);
    const done = await this.#queue.acquire(signal, wait, what);
    try {
      await this.pglite.waitReady;
      await this.#useSchema();
    } catch (error) {
      done();
      throw mapPgliteError(error, what);
    }
    return { pglite: this.pglite, done };
  }

  async #useSchema(): Promise<void> {
    const schema = this.#schema;
    if (schema === undefined || this.#queue.searchPath === schema) return;
    const name = postgresDialect.quoteIdentifier(schema);
    await this.pglite.query(`CREATE SCHEMA IF NOT EXISTS ${name}`);
    await this.pglite.query(`SET search_path TO ${name}`);
    this.#queue.searchPath = schema;
  }

  async ping(options: OperationOptions = {}): Promise<void> {
    await this.query(sql`SELECT 1`, options);
  }

  /**
   * LISTEN on the instance's one session (taken in turn like any call, so it never lands inside
   * another caller's transaction). An embedded engine has no connection to lose: `onError` and
   * `onResume` are never called.
   */
  async listen(
    channel: string,
    onNotification: (payload: string) => void,
    options: SqlListenOptions = {},
  ): Promise<SqlListener> {
    this.check(options, "listen");
    validateSqlChannel(channel);
    if (typeof onNotification !== "function") {
      throw new InfrastructureError("INVALID_ARGUMENT", "onNotification must be a function", {
        retryable: false,
      });
    }
    // PGlite puts the name into LISTEN as it is given: quoted, it keeps its case and any character.
    const quoted = postgresDialect.quoteIdentifier(channel);
    let active = true;
    const callback = (payload: string): void => {
      if (!active) return;
      try {
        onNotification(payload);
      } catch {
        // A listener's own failure must not keep the others from hearing.
      }
    };
    const session = await this.open(options.signal, options.timeoutMs, "listen");
    try {
      await session.pglite.listen(quoted, callback);
    } catch (error) {
      throw mapPgliteError(error, `listen on ${channel}`);
    } finally {
      session.done();
    }
    this.#listeners.set(callback, { quoted, stop: () => (active = false) });
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        active = false;
        if (!this.#listeners.delete(callback) || this.#closing !== undefined) return;
        await this.#unlisten(quoted, callback);
      })();
      return closing;
    };
    options.signal?.addEventListener("abort", () => void close(), { once: true });
    return { channel, close, [Symbol.asyncDispose]: close };
  }

  /** Best effort: a failed UNLISTEN leaves a channel nobody hears, which costs nothing. */
  async #unlisten(quoted: string, callback: (payload: string) => void): Promise<void> {
    const done = await this.#queue
      .acquire(undefined, this.#acquireTimeoutMs, "unlisten")
      .catch(() => undefined);
    if (done === undefined) return;
    try {
      if (!this.pglite.closed) await this.pglite.unlisten(quoted, callback);
    } catch {
      // See above.
    } finally {
      done();
    }
  }

  async transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options: SqlTransactionOptions = {},
  ): Promise<T> {
    this.check(options, "transaction");
    const begin = beginStatement(options);
    const session = await this.open(options.signal, undefined, "transaction");
    try {
      await control(session.pglite, begin, "begin transaction");
      const tx = new PgliteTransaction(session.pglite, this.options, options.signal, 1);
      let result: T;
      try {
        result = await work(tx);
        throwIfAborted(options.signal, "transaction");
      } catch (error) {
        tx.settle();
        await session.pglite.query("ROLLBACK").catch(() => undefined);
        if (options.signal?.aborted) throw cancelledError(options.signal, "transaction");
        throw error;
      }
      tx.settle();
      const outcome = await control(session.pglite, "COMMIT", "commit");
      if (outcome === "ROLLBACK") {
        throw new InfrastructureError(
          "INVALID_ARGUMENT",
          "transaction rolled back at commit: a statement in it failed and its error was caught",
        );
      }
      return result;
    } finally {
      session.done();
    }
  }

  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#drain();
    return this.#closing;
  }

  /** Lets the call holding the session (and those queued before close) finish first. */
  async #drain(): Promise<void> {
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const [, listener] of listeners) listener.stop();
    const done = await this.#queue.acquire(undefined, Number.POSITIVE_INFINITY, "close");
    try {
      // A shared instance outlives this adapter: its listeners must not.
      if (!this.#owns && !this.pglite.closed) {
        for (const [callback, { quoted }] of listeners)
          await this.pglite.unlisten(quoted, callback).catch(() => undefined);
      }
    } finally {
      done();
    }
    try {
      if (this.#owns && !this.pglite.closed) await this.pglite.close();
    } finally {
      this.#lock?.release();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The folder a `dataDir` names on disk, or `undefined` for an in-memory database. */
function folderOf(dataDir: string | undefined): string | undefined {
  if (dataDir === undefined || dataDir === "" || dataDir.startsWith("memory://")) return undefined;
  return dataDir.startsWith("file://") ? dataDir.slice("file://".length) : dataDir;
}

/**
 * Opens a `SqlDatabase` on an embedded PGlite (PostgreSQL compiled to WebAssembly), in memory or
 * in a data folder. The engine starts in the background; the first call waits for it.
 *
 * A data folder is locked for as long as the adapter is open: a second opener, in this process or
 * another, throws `CONFLICT` at once (naming the folder and the holder's pid) instead of starting a
 * second engine on the same files.
 */
export function createPgliteDatabase(options: PgliteDatabaseOptions = {}): PgliteDatabase {
  assertPositive("acquireTimeoutMs", options.acquireTimeoutMs);
  if (options.pglite !== undefined) return new PgliteSqlDatabase(options.pglite, false, options);
  const folder = folderOf(options.dataDir);
  const lock = folder === undefined ? undefined : lockDataDir(folder);
  let pglite: PGlite;
  try {
    pglite = new PGlite(options.dataDir ?? "memory://");
  } catch (error) {
    lock?.release();
    throw mapPgliteError(error, "open PGlite");
  }
  return new PgliteSqlDatabase(pglite, true, options, lock);
}
