import { type Attributes, type Span, SpanKind } from "@opentelemetry/api";
import {
  type OperationOptions,
  renderSql,
  SQL_ISOLATION_LEVELS,
  type SqlDatabase,
  type SqlDatabaseCapabilities,
  type SqlDialect,
  type SqlExecuteResult,
  type SqlExecutor,
  type SqlInsertManyOptions,
  type SqlListener,
  type SqlListenOptions,
  type SqlQuery,
  type SqlQueryOptions,
  type SqlStreamOptions,
  type SqlTransaction,
  type SqlTransactionOptions,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { DB_DURATION, dbOperation, dbSpanName } from "./db.js";
import { insertSummary, type SqlSummary, summarizeSql } from "./sql-summary.js";
import { tracedIterable } from "./streams.js";
import { type Call, type InstrumentOptions, type Operation, safely, Telemetry } from "./telemetry.js";

/** Options of `instrumentSqlDatabase`. */
export interface SqlInstrumentOptions extends InstrumentOptions {
  /**
   * Also record `db.query.text`: the statement as the adapter renders it, with placeholders (`$1`,
   * `?`) where the values go. Values are never recorded; text written with `sql.unsafe` is, as
   * written. Default false: `db.query.summary` (operations and table names) is recorded always.
   */
  recordQueryText?: boolean;
}

/** `db.system.name` for a dialect: `postgresql` or `mysql`. */
export function sqlSystemName(dialect: SqlDialect | undefined): string {
  return dialect?.name === "postgres" ? "postgresql" : dialect?.name === "mysql" ? "mysql" : "other_sql";
}

type StatementMethod = "query" | "queryOne" | "execute" | "stream";

interface SqlOperations {
  readonly statements: Record<StatementMethod, Operation>;
  readonly insertMany: Operation;
  readonly transaction: Operation;
  readonly ping: Operation;
  readonly listen: Operation;
}

/** What every executor of one decorated database shares. */
interface SqlShared {
  readonly telemetry: Telemetry;
  readonly operations: SqlOperations;
  readonly recordQueryText: boolean;
  readonly namespace: unknown;
}

/**
 * Traces and measures every call of a `SqlDatabase` and of the transactions it hands out: one
 * `CLIENT` span per statement named by its `db.query.summary` (`SELECT tenants`), with
 * `db.system.name` (from the dialect), `db.operation.name`, `db.collection.name`,
 * `db.response.returned_rows` and, on failure, `error.type` and the SQLSTATE as
 * `db.response.status_code`. A `stream` is one span from its first row to its end, with the row
 * count; statements inside `transaction` nest under its span. Bound values are never read.
 */
export function instrumentSqlDatabase(db: SqlDatabase, options: SqlInstrumentOptions = {}): SqlDatabase {
  const telemetry = new Telemetry(options, [DB_DURATION]);
  const system = sqlSystemName(db.dialect);
  const op = (method: string, kind = SpanKind.CLIENT, operation?: string) =>
    dbOperation(telemetry, {
      port: "SqlDatabase",
      method,
      system,
      kind,
      ...(operation === undefined ? {} : { operation }),
    });
  const statement = (method: StatementMethod) =>
    telemetry.operation({
      name: method,
      kind: SpanKind.CLIENT,
      port: "SqlDatabase",
      method,
      duration: DB_DURATION.duration,
      attributes: { [ATTR.dbSystemName]: system },
      metricKeys: [ATTR.dbSystemName, ATTR.dbNamespace],
    });
  const shared: SqlShared = {
    telemetry,
    recordQueryText: options.recordQueryText === true,
    namespace: telemetry.userAttributes[ATTR.dbNamespace],
    operations: {
      statements: {
        query: statement("query"),
        queryOne: statement("queryOne"),
        execute: statement("execute"),
        stream: statement("stream"),
      },
      insertMany: op("insertMany", SpanKind.CLIENT, "INSERT"),
      transaction: op("transaction", SpanKind.CLIENT),
      ping: op("ping"),
      listen: op("listen", SpanKind.CLIENT, "LISTEN"),
    },
  };
  return new InstrumentedSqlDatabase(db, shared);
}

function statementAttributes(
  shared: SqlShared,
  summary: SqlSummary,
  query: SqlQuery,
  dialect: SqlDialect,
): { name: string | undefined; span: Attributes; metric: Attributes } {
  const metric: Attributes = {};
  if (summary.operation !== undefined) metric[ATTR.dbOperationName] = summary.operation;
  if (summary.collection !== undefined) metric[ATTR.dbCollectionName] = summary.collection;
  if (summary.summary !== undefined) metric[ATTR.dbQuerySummary] = summary.summary;
  let span = metric;
  if (shared.recordQueryText) {
    span = { ...metric };
    safely(() => {
      span[ATTR.dbQueryText] = renderSql(query, dialect).text;
    });
  }
  const name =
    summary.summary ??
    (summary.operation === undefined
      ? undefined
      : dbSpanName(summary.operation, summary.collection, shared.namespace));
  return { name, span, metric };
}

const countRows = (span: Span, rows: unknown) => {
  if (Array.isArray(rows)) span.setAttribute(ATTR.dbReturnedRows, rows.length);
};
const countOne = (span: Span, row: unknown) =>
  span.setAttribute(ATTR.dbReturnedRows, row === undefined ? 0 : 1);
const countAffected = (span: Span, result: SqlExecuteResult) => {
  if (typeof result?.affectedRows === "number") span.setAttribute(ATTR.affectedRows, result.affectedRows);
};
const countInserted = (span: Span, inserted: number) => {
  if (typeof inserted === "number") span.setAttribute(ATTR.affectedRows, inserted);
};

class InstrumentedExecutor<Inner extends SqlExecutor & { readonly dialect: SqlDialect }>
  implements SqlExecutor
{
  protected readonly inner: Inner;
  protected readonly shared: SqlShared;

  constructor(inner: Inner, shared: SqlShared) {
    this.inner = inner;
    this.shared = shared;
  }

  get dialect(): SqlDialect {
    return this.inner.dialect;
  }

  #statement<T>(
    method: StatementMethod,
    query: SqlQuery,
    work: () => Promise<T>,
    onResult: (span: Span, result: T, call: Call) => void,
  ): Promise<T> {
    const { telemetry } = this.shared;
    const { name, span, metric } = statementAttributes(
      this.shared,
      summarizeSql(query),
      query,
      this.inner.dialect,
    );
    return telemetry.run(this.shared.operations.statements[method], work, onResult, name, span, metric);
  }

  query<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlQueryOptions): Promise<Row[]> {
    if (this.shared.telemetry.passthrough() || !isQuery(query)) return this.inner.query<Row>(query, options);
    return this.#statement("query", query, () => this.inner.query<Row>(query, options), countRows);
  }

  queryOne<Row = Record<string, unknown>>(
    query: SqlQuery,
    options?: SqlQueryOptions,
  ): Promise<Row | undefined> {
    if (this.shared.telemetry.passthrough() || !isQuery(query))
      return this.inner.queryOne<Row>(query, options);
    return this.#statement("queryOne", query, () => this.inner.queryOne<Row>(query, options), countOne);
  }

  execute(query: SqlQuery, options?: SqlQueryOptions): Promise<SqlExecuteResult> {
    if (this.shared.telemetry.passthrough() || !isQuery(query)) return this.inner.execute(query, options);
    return this.#statement("execute", query, () => this.inner.execute(query, options), countAffected);
  }

  stream<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlStreamOptions): AsyncIterable<Row> {
    const { telemetry } = this.shared;
    const rows = this.inner.stream<Row>(query, options);
    if (telemetry.passthrough() || !isQuery(query)) return rows;
    const { name, span, metric } = statementAttributes(
      this.shared,
      summarizeSql(query),
      query,
      this.inner.dialect,
    );
    const operation = this.shared.operations.statements.stream;
    return tracedIterable(
      telemetry,
      rows,
      () => telemetry.start(operation, name, span, metric),
      ATTR.dbReturnedRows,
    );
  }

  insertMany(
    table: string | readonly [string, string],
    columns: readonly string[],
    rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
    options?: SqlInsertManyOptions,
  ): Promise<number> {
    const { telemetry } = this.shared;
    if (telemetry.passthrough()) return this.inner.insertMany(table, columns, rows, options);
    const summary = insertSummary(table);
    const attributes: Attributes =
      summary.collection === undefined
        ? { [ATTR.dbQuerySummary]: summary.summary as string }
        : { [ATTR.dbCollectionName]: summary.collection, [ATTR.dbQuerySummary]: summary.summary as string };
    return telemetry.run(
      this.shared.operations.insertMany,
      () => this.inner.insertMany(table, columns, rows, options),
      countInserted,
      summary.summary,
      attributes,
      attributes,
    );
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>, options?: SqlTransactionOptions): Promise<T> {
    const { telemetry } = this.shared;
    if (telemetry.passthrough() || typeof work !== "function") return this.inner.transaction(work, options);
    const level = options?.isolationLevel;
    const attributes: Attributes | undefined =
      typeof level === "string" && SQL_ISOLATION_LEVELS.includes(level)
        ? { [ATTR.sqlIsolationLevel]: level }
        : undefined;
    return telemetry.run(
      this.shared.operations.transaction,
      () => this.inner.transaction((tx) => work(new InstrumentedTransaction(tx, this.shared)), options),
      undefined,
      undefined,
      attributes,
    );
  }
}

/** Anything else than a `SqlQuery` goes to the adapter untouched, to be refused there. */
function isQuery(query: unknown): query is SqlQuery {
  return (
    typeof query === "object" && query !== null && Array.isArray((query as { segments?: unknown }).segments)
  );
}

class InstrumentedTransaction extends InstrumentedExecutor<SqlTransaction> implements SqlTransaction {}

class InstrumentedSqlDatabase extends InstrumentedExecutor<SqlDatabase> implements SqlDatabase {
  /** Present when the adapter's is: one span for setting the listener up; notifications make none. */
  readonly listen?: (
    channel: string,
    onNotification: (payload: string) => void,
    options?: SqlListenOptions,
  ) => Promise<SqlListener>;

  constructor(inner: SqlDatabase, shared: SqlShared) {
    super(inner, shared);
    const listen = inner.listen;
    if (typeof listen === "function") {
      this.listen = (channel, onNotification, options) => {
        const { telemetry } = shared;
        const call = () => listen.call(inner, channel, onNotification, options);
        if (telemetry.passthrough()) return call();
        return telemetry.run(shared.operations.listen, call);
      };
    }
  }

  get capabilities(): SqlDatabaseCapabilities {
    return this.inner.capabilities;
  }

  ping(options?: OperationOptions): Promise<void> {
    const { telemetry } = this.shared;
    if (telemetry.passthrough()) return this.inner.ping(options);
    return telemetry.run(this.shared.operations.ping, () => this.inner.ping(options));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
