import {
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
import type { ResultSetHeader } from "mysql2";
import type { StatementKiller } from "./mysql-killer.js";
import type { Lease } from "./mysql-lease.js";
import { KILL_GRACE_MS, Supervision } from "./mysql-supervision.js";
import { type Parameter, toParameter } from "./mysql-values.js";

/** A prepared statement takes at most 65,535 parameters. */
const MAX_PARAMETERS = 65_535;
const DEFAULT_INSERT_BATCH_ROWS = 1_000;
const DEFAULT_STREAM_BATCH_ROWS = 500;

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

  /** Nothing runs, and nothing fails, until the caller starts iterating. */
  stream<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlStreamOptions): AsyncIterable<Row> {
    return {
      [Symbol.asyncIterator]: () => this.streamRows<Row>(query, options ?? {})[Symbol.asyncIterator](),
    };
  }

  private async *streamRows<Row>(query: SqlQuery, options: SqlStreamOptions): AsyncGenerator<Row> {
    const statement = prepare(query, "stream");
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
