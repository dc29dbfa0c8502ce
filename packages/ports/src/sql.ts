import { InfrastructureError } from "./errors.js";
import type { Closeable, OperationOptions } from "./resources.js";

const QUERY_MARKER = Symbol.for("@proj/ports.SqlQuery");

type Segment =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "value"; readonly value: unknown }
  | { readonly kind: "identifier"; readonly names: readonly string[] };

/**
 * A dialect-neutral SQL statement: literal text, bound values and quoted identifiers, kept apart
 * until an adapter renders it. Build it with the `sql` tag; there is no way to splice a value into
 * the text, so values are always sent as parameters.
 */
export class SqlQuery {
  readonly [QUERY_MARKER] = true;
  /** @internal Flattened parts; use `renderSql` to turn them into text and values. */
  readonly segments: readonly Segment[];

  /** @internal */
  constructor(segments: readonly Segment[]) {
    this.segments = segments;
  }

  static isInstance(value: unknown): value is SqlQuery {
    return typeof value === "object" && value !== null && QUERY_MARKER in value;
  }
}

function appendTo(target: Segment[], value: unknown): void {
  if (SqlQuery.isInstance(value)) target.push(...value.segments);
  else target.push({ kind: "value", value });
}

function template(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
  const segments: Segment[] = [];
  strings.forEach((text, index) => {
    if (text.length > 0) segments.push({ kind: "text", text });
    if (index < values.length) appendTo(segments, values[index]);
  });
  return new SqlQuery(segments);
}

function checkIdentifier(name: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 63 || name.includes("\0")) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      "SQL identifier must be 1 to 63 characters with no NUL",
    );
  }
  return name;
}

/**
 * The SQL tag.
 *
 * ```ts
 * sql`SELECT * FROM ${sql.id("tenants")} WHERE slug = ${slug} AND status IN ${sql.in(statuses)}`
 * ```
 * - `${value}`: a bound parameter (`$1` on PostgreSQL, `?` on MySQL), whatever the value holds.
 * - `${sql.id("schema", "table")}`: a quoted, optionally qualified identifier.
 * - `${otherQuery}`: another `sql` value, inlined with its own parameters.
 * - `sql.join(parts, separator)`, `sql.in(values)`: lists; `sql.in([])` renders `(NULL)`, which
 *   matches no row with `IN` — and no row with `NOT IN` either, so skip a `NOT IN` filter yourself
 *   when its list is empty.
 * - `sql.unsafe(text)`: raw text, for text that is not and never comes from input (DDL keywords).
 */
export const sql = Object.assign(template, {
  id(...names: string[]): SqlQuery {
    if (names.length === 0)
      throw new InfrastructureError("INVALID_ARGUMENT", "sql.id needs at least one name");
    return new SqlQuery([{ kind: "identifier", names: names.map(checkIdentifier) }]);
  },
  join(parts: readonly unknown[], separator: SqlQuery = template`, `): SqlQuery {
    const segments: Segment[] = [];
    parts.forEach((part, index) => {
      if (index > 0) segments.push(...separator.segments);
      appendTo(segments, part);
    });
    return new SqlQuery(segments);
  },
  in(values: readonly unknown[]): SqlQuery {
    if (values.length === 0) return template`(NULL)`;
    return template`(${sql.join(values)})`;
  },
  unsafe(text: string): SqlQuery {
    return new SqlQuery([{ kind: "text", text }]);
  },
  empty: new SqlQuery([]),
});

/** How one SQL dialect writes placeholders and identifiers. */
export interface SqlDialect {
  readonly name: "postgres" | "mysql";
  /** The placeholder for the parameter at a 1-based position. */
  placeholder(position: number): string;
  quoteIdentifier(name: string): string;
}

export const postgresDialect: SqlDialect = {
  name: "postgres",
  placeholder: (position) => `$${position}`,
  quoteIdentifier: (name) => `"${name.replaceAll('"', '""')}"`,
};

export const mysqlDialect: SqlDialect = {
  name: "mysql",
  placeholder: () => "?",
  quoteIdentifier: (name) => `\`${name.replaceAll("`", "``")}\``,
};

/** Text and parameter list for a driver. */
export interface RenderedSql {
  text: string;
  values: unknown[];
}

export function renderSql(query: SqlQuery, dialect: SqlDialect): RenderedSql {
  let text = "";
  const values: unknown[] = [];
  for (const segment of query.segments) {
    if (segment.kind === "text") text += segment.text;
    else if (segment.kind === "identifier") text += segment.names.map(dialect.quoteIdentifier).join(".");
    else {
      values.push(segment.value);
      text += dialect.placeholder(values.length);
    }
  }
  return { text, values };
}

export interface SqlQueryOptions extends OperationOptions {
  /**
   * Server-side time limit in milliseconds. Past it the statement is cancelled on the server and
   * the call rejects with `TIMEOUT`.
   */
  timeoutMs?: number;
}

export interface SqlStreamOptions extends SqlQueryOptions {
  /** Rows fetched from the server per round trip. Default 500. */
  batchSize?: number;
}

export interface SqlInsertManyOptions extends OperationOptions {
  /** Rows per statement (or per COPY chunk). Default chosen by the adapter. */
  batchSize?: number;
}

export interface SqlExecuteResult {
  /** Rows inserted, updated or deleted (on MySQL: rows changed, not rows matched). */
  affectedRows: number;
}

export type SqlIsolationLevel = "read committed" | "repeatable read" | "serializable";

/** Every isolation level the port offers. */
export const SQL_ISOLATION_LEVELS: readonly SqlIsolationLevel[] = [
  "read committed",
  "repeatable read",
  "serializable",
];

/**
 * The standard SQL words for an isolation level (`"READ COMMITTED"`), as both PostgreSQL and MySQL
 * take them after `ISOLATION LEVEL`; `INVALID_ARGUMENT` for a level the port does not offer.
 */
export function sqlIsolationLevel(level: SqlIsolationLevel): string {
  const normalised = typeof level === "string" ? level.toLowerCase() : level;
  if (!SQL_ISOLATION_LEVELS.includes(normalised as SqlIsolationLevel)) {
    throw new InfrastructureError("INVALID_ARGUMENT", `unknown isolation level ${String(level)}`, {
      retryable: false,
    });
  }
  return normalised.toUpperCase();
}

export interface SqlTransactionOptions extends OperationOptions {
  isolationLevel?: SqlIsolationLevel;
  readOnly?: boolean;
}

/** What can run statements: the database itself, or a transaction. */
export interface SqlExecutor {
  /** All rows, as objects keyed by column name. */
  query<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlQueryOptions): Promise<Row[]>;
  /** The first row, or `undefined` when there is none. */
  queryOne<Row = Record<string, unknown>>(
    query: SqlQuery,
    options?: SqlQueryOptions,
  ): Promise<Row | undefined>;
  /** Runs a statement that returns no rows. */
  execute(query: SqlQuery, options?: SqlQueryOptions): Promise<SqlExecuteResult>;
  /**
   * Rows one at a time, fetched in batches from a server-side cursor, so memory stays bounded
   * whatever the result size. Leaving the loop early (break, throw, abort) closes the cursor and
   * releases the connection.
   */
  stream<Row = Record<string, unknown>>(query: SqlQuery, options?: SqlStreamOptions): AsyncIterable<Row>;
  /**
   * Inserts many rows into `table` (a name, or `[schema, table]`) as fast as the backend allows
   * (COPY or multi-row INSERT), consuming `rows` with back-pressure. Returns the number inserted.
   * Atomic: on any failure no row of this call remains (it runs in a transaction of its own, or in
   * the current one).
   */
  insertMany(
    table: string | readonly [string, string],
    columns: readonly string[],
    rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
    options?: SqlInsertManyOptions,
  ): Promise<number>;
  /**
   * Runs `work` in a transaction (a savepoint when already inside one). Commits when `work`
   * resolves; rolls back when it throws or the signal fires, and rethrows. The connection returns
   * to the pool either way. A nested (savepoint) transaction keeps the outer one's isolation level
   * and read-only mode; its own are ignored.
   */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>, options?: SqlTransactionOptions): Promise<T>;
}

/** A transaction. Using it after its `transaction` callback has settled is `CLOSED`. */
export interface SqlTransaction extends SqlExecutor {
  readonly dialect: SqlDialect;
}

export interface SqlDatabaseCapabilities {
  /** `INSERT ... RETURNING` works (PostgreSQL, MariaDB 10.5+; not MySQL 8). */
  returning: boolean;
  /**
   * `listen()` is offered: notifications sent with `SELECT pg_notify(channel, payload)` (PostgreSQL's
   * LISTEN/NOTIFY) reach listeners on any connection of any process. Absent means `false`.
   */
  notifications?: boolean;
}

/** What `SqlDatabase.listen` accepts. */
export interface SqlListenOptions extends OperationOptions {
  /**
   * Deadline of setting the listener up (connecting, `LISTEN`): past it `listen()` rejects with
   * `TIMEOUT`. Default: the adapter's call deadline.
   */
  timeoutMs?: number;
  /**
   * The listening connection was lost (`UNAVAILABLE`, the driver error as `cause`), or a try to
   * reconnect failed: notifications sent from now until `onResume` are missed. The listener keeps
   * reconnecting with a back-off until it is closed.
   */
  onError?: (error: InfrastructureError) => void;
  /** Listening again after a loss reported by `onError`: the gap is over. */
  onResume?: () => void;
}

const UTF8 = new TextEncoder();

/**
 * Checks a notification channel name as `listen()` takes it (1 to 63 UTF-8 bytes, no NUL: PostgreSQL
 * truncates longer identifiers, so a longer name would listen on another channel than `pg_notify`
 * sends to); `INVALID_ARGUMENT` otherwise.
 */
export function validateSqlChannel(channel: string): string {
  if (
    typeof channel !== "string" ||
    channel.length === 0 ||
    UTF8.encode(channel).length > 63 ||
    channel.includes("\0")
  ) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      "notification channel must be 1 to 63 bytes (UTF-8) with no NUL",
      { retryable: false },
    );
  }
  return channel;
}

/** A running subscription to one notification channel. */
export interface SqlListener {
  readonly channel: string;
  /**
   * Stops delivery at once (no callback runs after `close()` was called) and releases the
   * listening connection when it was the last listener. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A relational database reached through one pool of connections.
 *
 * Contract:
 * - Statements are `SqlQuery` values (the `sql` tag); values are always bound parameters and
 *   identifiers always quoted, so input can never change a statement's shape.
 * - Portable column types round-trip as JS values: INTEGER → number, VARCHAR/TEXT → string,
 *   BOOLEAN → boolean, NULL → null, TIMESTAMP → Date; BIGINT and DECIMAL come back as strings
 *   unless the adapter is configured otherwise (no silent precision loss).
 * - Errors: unique or foreign key violation → `CONFLICT` (details.sqlState); syntax error, unknown
 *   table or column, bad value → `INVALID_ARGUMENT`; deadlock and serialization failure →
 *   `CONFLICT` with `retryable: true`; statement timeout → `TIMEOUT`; abort → `CANCELLED`; lost or
 *   refused connection → `UNAVAILABLE`; no free connection within the pool's acquire timeout →
 *   `TIMEOUT`. The driver error is `cause`; `details.sqlState` holds the SQLSTATE when known.
 * - A dropped connection is replaced: the next call after a server restart succeeds.
 * - `close()` drains the pool; calls after it are `CLOSED`.
 */
export interface SqlDatabase extends SqlExecutor, Closeable {
  readonly dialect: SqlDialect;
  readonly capabilities: SqlDatabaseCapabilities;
  /** Round trip to the server: resolves when it answers, else `UNAVAILABLE` / `TIMEOUT`. */
  ping(options?: OperationOptions): Promise<void>;
  /**
   * Present exactly when `capabilities.notifications` is true. Calls `onNotification(payload)` for
   * every notification on `channel` (1 to 63 UTF-8 bytes, no NUL; case-sensitive, as `pg_notify`
   * takes it) committed after `listen()` resolved, from any session. Notifications of one
   * transaction come once, at its commit; PostgreSQL merges identical ones of one transaction.
   *
   * - Resolves once the server listens; `TIMEOUT` past `timeoutMs`, `UNAVAILABLE` when the
   *   server cannot be reached, `CANCELLED` when the signal fires first. A signal that fires later
   *   closes the listener.
   * - The listener holds a connection of its own, outside the pool (one per database, shared by
   *   its listeners). When that connection is lost the listener reports it through `onError`,
   *   reconnects with a back-off and reports `onResume` once it listens again. Notifications sent
   *   in between are lost: delivery is at most once, so pair it with a poll when a missed one
   *   matters.
   * - An exception thrown by `onNotification` is ignored (it must not stop other listeners).
   * - After the database's `close()`, every listener is closed and `listen()` is `CLOSED`.
   */
  listen?(
    channel: string,
    onNotification: (payload: string) => void,
    options?: SqlListenOptions,
  ): Promise<SqlListener>;
}
