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
import { hasServerReply } from "./map-mysql-error.js";
import type { StatementKiller } from "./mysql-killer.js";
import { type Lease, NotSentError } from "./mysql-lease.js";
import { KILL_GRACE_MS, Supervision } from "./mysql-supervision.js";
import { booleanColumns, type Parameter, readBooleanRow, toParameter } from "./mysql-values.js";

/** A prepared statement takes at most 65,535 parameters. */
const MAX_PARAMETERS = 65_535;
const DEFAULT_INSERT_BATCH_ROWS = 1_000;
const DEFAULT_STREAM_BATCH_ROWS = 500;

/** Longest finite deadline a timer can hold. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** What the database shares with every executor built on it. */
export interface ExecutorRuntime {
  readonly killer: StatementKiller;
  /** The deadline of a call that sets no `timeoutMs`, in ms; `Infinity` for none. */
  readonly timeoutMs: number;
  isClosed(): boolean;
  /** A connection by `deadline` (epoch ms, `Infinity` for none). */
  acquire(signal: AbortSignal | undefined, deadline: number): Promise<Lease>;
}

/** Checks a deadline option: a positive number of milliseconds, or `Infinity` for none. */
export function checkTimeout(name: string, value: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== "number" || !(value > 0) || value > MAX_TIMEOUT_MS) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `${name} must be a positive number of milliseconds (at most ${MAX_TIMEOUT_MS}), or Infinity`,
    );
  }
  return value;
}

/** The epoch time a call started now must settle by. */
export function deadlineOf(perCall: number | undefined, fallback: number): number {
  const timeoutMs = perCall === undefined ? fallback : checkTimeout("timeoutMs", perCall);
  return Number.isFinite(timeoutMs) ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
}

/** A write's reply (OK packet) rather than rows. */
function isWriteResult(result: unknown): boolean {
  return typeof result === "object" && result !== null && !Array.isArray(result) && "affectedRows" in result;
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
    deadline: number,
    use: (lease: Lease) => Promise<T>,
  ): Promise<T>;

  /**
   * What a statement that went out and got no answer reports: on the database its effect is
   * unknown; in a transaction nothing of it can commit (the connection and the transaction are gone).
   */
  protected abstract unanswered(failure: InfrastructureError): InfrastructureError;

  /** Opens a transaction (or savepoint) on `lease` for `work`. */
  abstract transaction<T>(
    work: (tx: SqlTransaction) => Promise<T>,
    options?: SqlTransactionOptions,
  ): Promise<T>;

  /** Called with every statement failure, so a transaction can note that the server ended it. */
  protected noteFailure(_error: unknown): void {}

  /** Refuses a new call once the database is closed; a transaction answers for itself instead. */
  protected assertOpen(): void {
    if (this.runtime.isClosed()) throw closedError("MySQL database");
  }

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

  /**
   * Statements with no parameters go over the text protocol; the rest are prepared and bound. The
   * call's deadline covers waiting for a connection, sending, the server's work and the reply.
   */
  protected run(statement: Statement, options: SqlQueryOptions | undefined): Promise<unknown> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    let deadline: number;
    try {
      if (signal?.aborted) throwIfAborted(signal, statement.what());
      deadline = deadlineOf(options?.timeoutMs, this.runtime.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.withLease(signal, deadline, async (lease) => {
      if (Date.now() >= deadline) {
        // Waiting for the connection used the whole deadline: nothing was sent.
        throw new InfrastructureError(
          "TIMEOUT",
          `${statement.what()}: the call's deadline passed before it was sent`,
          {
            retryable: true,
          },
        );
      }
      const supervision = new Supervision(this.runtime, lease, statement.what, signal, deadline - Date.now());
      try {
        const result = await lease.send(statement.text, statement.values);
        // A write the server completed as the deadline passed did happen: report it, rather than
        // a failure that invites running it again.
        if (supervision.interruption && !isWriteResult(result)) throw supervision.failure();
        return result;
      } catch (error) {
        if (isInfrastructureError(error) || error instanceof NotSentError) throw error;
        this.noteFailure(error);
        const failure = supervision.failure(error);
        throw hasServerReply(error) ? failure : this.unanswered(failure);
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
    this.assertOpen();
    const { signal } = options;
    if (signal?.aborted) throwIfAborted(signal, statement.what());
    const deadline = deadlineOf(options.timeoutMs, this.runtime.timeoutMs);
    // The lease lives as long as the consumer iterates, which `withLease`'s callback cannot express.
    const lease = await this.openStreamLease(signal, deadline);
    try {
      yield* this.streamOnLease<Row>(lease, statement, options);
    } finally {
      this.closeStreamLease(lease);
    }
  }

  /** The lease a stream runs on: fresh from the pool for the database, the transaction's own otherwise. */
  protected abstract openStreamLease(signal: AbortSignal | undefined, deadline: number): Promise<Lease>;
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
    // BOOLEAN columns are read as booleans, from each result set's metadata; these listeners run
    // before the stream's own, so a row is converted before it is queued for the consumer.
    let booleans: string[] | undefined;
    command.on("fields", (fields: unknown) => {
      booleans = Array.isArray(fields) ? booleanColumns(fields) : undefined;
    });
    command.on("result", (row: unknown) => {
      if (booleans) readBooleanRow(row as Record<string, unknown>, booleans);
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
    // An explicit timeoutMs bounds the whole iteration; the default deadline bounds each wait for
    // the server, so a slow consumer is never cut off but a silent connection is.
    const wholeIteration = options.timeoutMs !== undefined;
    const supervision = new Supervision(
      this.runtime,
      lease,
      statement.what,
      options.signal,
      wholeIteration ? checkTimeout("timeoutMs", options.timeoutMs as number) : Number.POSITIVE_INFINITY,
      (error) => readable.destroy(error),
    );
    const waitMs = wholeIteration ? Number.POSITIVE_INFINITY : this.runtime.timeoutMs;
    const rows = readable[Symbol.asyncIterator]();
    try {
      for (;;) {
        const silent = Number.isFinite(waitMs)
          ? setTimeout(() => supervision.interrupt("timeout"), waitMs)
          : undefined;
        let next: IteratorResult<unknown>;
        try {
          next = await rows.next();
        } finally {
          clearTimeout(silent);
        }
        if (next.done) break;
        yield next.value as Row;
      }
    } catch (error) {
      if (isInfrastructureError(error)) throw error;
      this.noteFailure(error);
      throw supervision.failure(error);
    } finally {
      await rows.return?.();
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
    this.assertOpen();
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
