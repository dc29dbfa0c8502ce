import {
  cancelledError,
  closedError,
  InfrastructureError,
  isInfrastructureError,
  mysqlDialect,
  renderSql,
  type SqlDialect,
  type SqlExecuteResult,
  type SqlExecutor,
  type SqlInsertManyOptions,
  SqlQuery,
  type SqlQueryOptions,
  type SqlStreamOptions,
  type SqlTransaction,
  type SqlTransactionOptions,
  sql,
  throwIfAborted,
} from "@proj/ports";
import type { PoolConnection as CorePoolConnection, ResultSetHeader } from "mysql2";
import { type Interruption, isConnectionLost, mapMysqlError } from "./map-mysql-error.js";
import type { StatementKiller } from "./mysql-killer.js";
import { type Parameter, toParameter } from "./mysql-values.js";

/** How long a killed statement may take to come back before its socket is destroyed instead. */
const KILL_GRACE_MS = 2_000;
/** A prepared statement takes at most 65,535 parameters. */
const MAX_PARAMETERS = 65_535;
const DEFAULT_INSERT_BATCH_ROWS = 1_000;
const DEFAULT_STREAM_BATCH_ROWS = 500;

/**
 * One pooled connection checked out for a statement, a stream or a transaction. It drives mysql2's
 * callback API directly: one promise per statement, no per-call wrapper objects.
 */
export class Lease {
  #done = false;

  constructor(
    readonly core: CorePoolConnection,
    /** It served earlier calls, so the server may have dropped it while it sat idle in the pool. */
    readonly reused: boolean,
    private readonly onDone: () => void,
  ) {}

  get threadId(): number {
    return this.core.threadId;
  }

  get isDone(): boolean {
    return this.#done;
  }

  /** Runs one statement: over the text protocol without parameters, prepared and bound with them. */
  send(text: string, values: readonly Parameter[] = []): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const done = (error: unknown, result: unknown) => (error ? reject(error) : resolve(result));
      if (values.length === 0) this.core.query(text, done);
      else this.core.execute(text, values as Parameter[], done);
    });
  }

  ping(): Promise<void> {
    return new Promise((resolve, reject) => this.core.ping((error) => (error ? reject(error) : resolve())));
  }

  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.core.release();
    this.onDone();
  }

  /** Drops the connection instead of returning it: its state is unknown or it is broken. */
  destroy(): void {
    if (this.#done) return;
    this.#done = true;
    this.core.destroy();
    this.onDone();
  }
}

/** What the database shares with every executor built on it. */
export interface ExecutorRuntime {
  readonly killer: StatementKiller;
  readonly statementTimeoutMs: number;
  isClosed(): boolean;
  acquire(signal: AbortSignal | undefined): Promise<Lease>;
}

interface Statement {
  text: string;
  values: Parameter[];
  /** Names the statement in error messages; built only when one is thrown. */
  what(): string;
}

function describe(kind: string, text: string): string {
  const compact = text.replace(/\s+/g, " ").trim();
  return `MySQL ${kind} "${compact.length > 80 ? `${compact.slice(0, 77)}...` : compact}"`;
}

function prepare(query: SqlQuery, kind: string): Statement {
  if (!SqlQuery.isInstance(query)) {
    throw new InfrastructureError("INVALID_ARGUMENT", "Statements must be built with the sql tag");
  }
  const { text, values } = renderSql(query, mysqlDialect);
  return { text, values: values.map(toParameter), what: () => describe(kind, text) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Interrupts a statement on the server when its time limit passes or its signal fires: `KILL
 * QUERY` from a side connection, then, if the statement still has not returned, the socket is
 * destroyed so the caller is never left waiting.
 */
class Supervision {
  interruption: Interruption | undefined;
  #killing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #fallback: NodeJS.Timeout | undefined;
  readonly #onAbort = () => this.interrupt("abort");

  constructor(
    private readonly runtime: ExecutorRuntime,
    private readonly lease: Lease,
    private readonly what: () => string,
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number,
    /** Told at once, so a caller reading buffered rows stops without waiting for the server. */
    private readonly onInterrupt: (error: InfrastructureError) => void = () => {},
  ) {
    if (timeoutMs > 0) this.#timer = setTimeout(() => this.interrupt("timeout"), timeoutMs);
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** `undefined`: the caller left early, so there is nobody to report an error to. */
  interrupt(why: Interruption | undefined): void {
    if (this.#killing) return;
    this.interruption = why;
    this.#killing = this.runtime.killer.kill(this.lease.threadId);
    this.#fallback = setTimeout(() => this.lease.destroy(), KILL_GRACE_MS);
    if (why) this.onInterrupt(this.failure());
  }

  /**
   * What the call reports once interrupted, even when the server answered anyway: a KILLed
   * SLEEP() returns 1 instead of failing, and the deadline has passed either way.
   */
  failure(cause?: unknown): InfrastructureError {
    return mapMysqlError(cause, { what: this.what(), interruption: this.interruption, signal: this.signal });
  }

  /** Stops the timers; resolves once a KILL in flight has landed, so it cannot hit a later statement. */
  async settle(): Promise<void> {
    clearTimeout(this.#timer);
    this.signal?.removeEventListener("abort", this.#onAbort);
    if (this.#killing && !this.lease.isDone) await this.#killing;
    clearTimeout(this.#fallback);
  }
}

/**
 * The statements every executor runs the same way; the database and a transaction differ only in
 * where the connection comes from.
 */
export abstract class MysqlExecutor implements SqlExecutor {
  readonly dialect: SqlDialect = mysqlDialect;

  constructor(protected readonly runtime: ExecutorRuntime) {}

  /** Runs `use` on a connection: a fresh lease for the database, the transaction's own otherwise. */
  protected abstract withLease<T>(
    signal: AbortSignal | undefined,
    use: (lease: Lease) => Promise<T>,
  ): Promise<T>;

  /** Opens a transaction (or savepoint) on `lease` for `work`. */
  abstract transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlTransactionOptions,
  ): Promise<T>;

  /** Called with every statement failure, so a transaction can note that the server ended it. */
  protected noteFailure(_error: unknown): void {}

  async query<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlQueryOptions): Promise<Row[]> {
    const statement = prepare(query, "query");
    const result = await this.run(statement, options);
    return Array.isArray(result) ? (result as Row[]) : [];
  }

  async queryOne<Row = Record<string, unknown>>(
    query: SqlQuery,
    options?: SqlQueryOptions,
  ): Promise<Row | undefined> {
    const rows = await this.query<Row>(query, options);
    return rows[0];
  }

  async execute(query: SqlQuery, options?: SqlQueryOptions): Promise<SqlExecuteResult> {
    const statement = prepare(query, "statement");
    const result = await this.run(statement, options);
    return { affectedRows: Array.isArray(result) ? result.length : (result as ResultSetHeader).affectedRows };
  }

  /** Statements with no parameters go over the text protocol; the rest are prepared and bound. */
  protected run(statement: Statement, options: SqlQueryOptions | undefined): Promise<unknown> {
    if (this.runtime.isClosed()) return Promise.reject(closedError("MySQL database"));
    const signal = options?.signal;
    try {
      if (signal?.aborted) throwIfAborted(signal, statement.what());
    } catch (error) {
      return Promise.reject(error);
    }
    return this.withLease(signal, async (lease) => {
      const supervision = new Supervision(
        this.runtime,
        lease,
        statement.what,
        signal,
        options?.timeoutMs ?? this.runtime.statementTimeoutMs,
      );
      try {
        const result = await lease.send(statement.text, statement.values);
        if (supervision.interruption) throw supervision.failure();
        return result;
      } catch (error) {
        if (isInfrastructureError(error)) throw error;
        this.noteFailure(error);
        throw supervision.failure(error);
      } finally {
        await supervision.settle();
      }
    });
  }

  stream<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlStreamOptions): AsyncIterable<Row> {
    const statement = prepare(query, "stream");
    return {
      [Symbol.asyncIterator]: () => this.streamRows<Row>(statement, options ?? {})[Symbol.asyncIterator](),
    };
  }

  private async *streamRows<Row>(statement: Statement, options: SqlStreamOptions): AsyncGenerator<Row> {
    if (this.runtime.isClosed()) throw closedError("MySQL database");
    const { signal } = options;
    if (signal?.aborted) throwIfAborted(signal, statement.what());
    // The lease lives as long as the consumer iterates, which `withLease`'s callback cannot express.
    const lease = await this.openStreamLease(signal);
    try {
      yield* this.streamOnLease<Row>(lease, statement, options);
    } finally {
      this.closeStreamLease(lease);
    }
  }

  /** The lease a stream runs on: fresh from the pool for the database, the transaction's own otherwise. */
  protected abstract openStreamLease(signal: AbortSignal | undefined): Promise<Lease>;
  protected abstract closeStreamLease(lease: Lease): void;

  private async *streamOnLease<Row>(
    lease: Lease,
    statement: Statement,
    options: SqlStreamOptions,
  ): AsyncGenerator<Row> {
    const core = lease.core;
    const command =
      statement.values.length === 0
        ? core.query(statement.text)
        : core.execute(statement.text, statement.values);
    let finished = false;
    let markFinished = () => {};
    const done = new Promise<void>((resolve) => {
      markFinished = () => {
        finished = true;
        resolve();
      };
    });
    command.once("end", markFinished);
    // Once the consumer has left, the stream no longer listens: an error arriving then must not
    // go unhandled.
    command.on("error", markFinished);
    const readable = command.stream({ highWaterMark: options.batchSize ?? DEFAULT_STREAM_BATCH_ROWS });
    // A lost connection is reported on the connection, not on a command without a callback.
    const onConnectionError = (error: Error) => {
      markFinished();
      readable.destroy(error);
    };
    core.on("error", onConnectionError);
    const supervision = new Supervision(
      this.runtime,
      lease,
      statement.what,
      options.signal,
      options.timeoutMs ?? this.runtime.statementTimeoutMs,
      (error) => readable.destroy(error),
    );
    try {
      for await (const row of readable) yield row as Row;
    } catch (error) {
      if (isInfrastructureError(error)) throw error;
      this.noteFailure(error);
      throw supervision.failure(error);
    } finally {
      if (!finished) {
        // Left early (break, throw, abort): stop the statement on the server; mysql2 drops the
        // rows still in flight, and the connection is reusable once the command ends.
        supervision.interrupt(undefined);
        await Promise.race([done, sleep(KILL_GRACE_MS)]);
        if (!finished) lease.destroy();
      }
      core.off("error", onConnectionError);
      await supervision.settle();
    }
  }

  async insertMany(
    table: string | readonly [string, string],
    columns: readonly string[],
    rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
    options?: SqlInsertManyOptions,
  ): Promise<number> {
    if (this.runtime.isClosed()) throw closedError("MySQL database");
    if (columns.length === 0)
      throw new InfrastructureError("INVALID_ARGUMENT", "insertMany needs at least one column");
    const target = typeof table === "string" ? sql.id(table) : sql.id(table[0], table[1]);
    const head = renderSql(
      sql`INSERT INTO ${target} (${sql.join(columns.map((column) => sql.id(column)))}) VALUES `,
      mysqlDialect,
    ).text;
    const tableName = typeof table === "string" ? table : table.join(".");
    const batchRows = Math.max(
      1,
      Math.min(options?.batchSize ?? DEFAULT_INSERT_BATCH_ROWS, Math.floor(MAX_PARAMETERS / columns.length)),
    );
    const rowPlaceholders = `(${columns.map(() => "?").join(", ")})`;
    const textFor = (count: number) => head + Array.from({ length: count }, () => rowPlaceholders).join(", ");
    const fullBatchText = textFor(batchRows);
    const signal = options?.signal;

    return this.transaction(
      async (tx) => {
        const executor = tx as MysqlExecutor;
        let inserted = 0;
        let values: Parameter[] = [];
        let pending = 0;
        const flush = async () => {
          const text = pending === batchRows ? fullBatchText : textFor(pending);
          await executor.run({ text, values, what: () => `MySQL insertMany into ${tableName}` }, { signal });
          inserted += pending;
          values = [];
          pending = 0;
        };
        for await (const row of rows) {
          if (row.length !== columns.length) {
            throw new InfrastructureError(
              "INVALID_ARGUMENT",
              `insertMany into ${tableName}: row ${inserted + pending + 1} has ${row.length} values for ${columns.length} columns`,
            );
          }
          for (const value of row) values.push(toParameter(value));
          pending += 1;
          if (pending === batchRows) await flush();
        }
        if (pending > 0) await flush();
        return inserted;
      },
      signal ? { signal } : {},
    );
  }
}

/** Shared by a root transaction and its savepoints. */
interface TransactionRoot {
  readonly lease: Lease;
  savepoints: number;
  /** Set when the server rolled the whole transaction back (deadlock, lost connection). */
  endedBy: InfrastructureError | undefined;
}

interface TransactionSteps {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

const ENDS_TRANSACTION = new Set([
  1213, // ER_LOCK_DEADLOCK: InnoDB rolls back the whole transaction
  1927, // ER_CONNECTION_KILLED
]);

export class MysqlTransaction extends MysqlExecutor implements SqlTransaction {
  #settled = false;

  constructor(
    runtime: ExecutorRuntime,
    private readonly root: TransactionRoot,
  ) {
    super(runtime);
  }

  /** @internal */
  settle(): void {
    this.#settled = true;
  }

  private assertUsable(): void {
    if (this.#settled || this.runtime.isClosed()) throw closedError("MySQL transaction");
    const ended = this.root.endedBy;
    if (ended) {
      throw new InfrastructureError(
        ended.code,
        `The MySQL transaction was already rolled back: ${ended.message}`,
        {
          cause: ended,
          retryable: ended.retryable,
          details: ended.details,
        },
      );
    }
  }

  protected override noteFailure(error: unknown): void {
    const errno = (error as { errno?: number } | null)?.errno;
    if ((errno !== undefined && ENDS_TRANSACTION.has(errno)) || isConnectionLost(error)) {
      this.root.endedBy ??= mapMysqlError(error, { what: "MySQL transaction" });
    }
  }

  protected withLease<T>(_signal: AbortSignal | undefined, use: (lease: Lease) => Promise<T>): Promise<T> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    return use(this.root.lease);
  }

  protected async openStreamLease(): Promise<Lease> {
    this.assertUsable();
    return this.root.lease;
  }

  protected closeStreamLease(): void {}

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>, options?: SqlTransactionOptions): Promise<T> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    this.root.savepoints += 1;
    const name = `sp_${this.root.savepoints}`;
    const nested = new MysqlTransaction(this.runtime, this.root);
    const control = (text: string) => this.control(text);
    return control(`SAVEPOINT ${name}`).then(() =>
      runTransaction(this.runtime, this.root, nested, work, options?.signal, {
        commit: () => control(`RELEASE SAVEPOINT ${name}`),
        rollback: () => control(`ROLLBACK TO SAVEPOINT ${name}`),
      }),
    );
  }

  private async control(text: string): Promise<void> {
    try {
      await this.root.lease.send(text);
    } catch (error) {
      this.noteFailure(error);
      throw mapMysqlError(error, { what: `MySQL ${text}` });
    }
  }
}

/**
 * Runs `work` in a transaction (or savepoint) the caller has begun, then commits, rolling back when it throws or `signal` fires. On abort
 * the caller is answered at once: the running statement is killed, the transaction rolled back,
 * and every later call on `tx` is `CLOSED`.
 */
export async function runTransaction<T>(
  runtime: ExecutorRuntime,
  root: TransactionRoot,
  tx: MysqlTransaction,
  work: (tx: SqlTransaction) => Promise<T>,
  signal: AbortSignal | undefined,
  steps: TransactionSteps,
): Promise<T> {
  throwIfAborted(signal, "MySQL transaction");
  let killing: Promise<void> | undefined;
  let onAbort = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      tx.settle();
      killing = runtime.killer.kill(root.lease.threadId);
      reject(cancelledError(signal as AbortSignal, "MySQL transaction"));
    };
  });
  aborted.catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const running = work(tx);
    running.catch(() => {});
    const result = await (signal ? Promise.race([running, aborted]) : running);
    tx.settle();
    if (root.endedBy) throw root.endedBy;
    await steps.commit();
    return result;
  } catch (error) {
    tx.settle();
    if (killing) await killing;
    if (!root.lease.isDone) {
      try {
        await steps.rollback();
      } catch (rollbackError) {
        // The state of the transaction is unknown now: later statements on it fail, and the root
        // drops the connection, which makes the server roll back whatever is left.
        root.endedBy ??= mapMysqlError(rollbackError, { what: "MySQL rollback" });
      }
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

export type { TransactionRoot };
