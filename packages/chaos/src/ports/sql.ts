import {
  renderSql,
  type SqlDatabase,
  type SqlDialect,
  type SqlExecutor,
  type SqlListenOptions,
  type SqlQuery,
  type SqlStreamOptions,
  type SqlTransaction,
} from "@proj/ports";
import type { Chaos, ChaosOptions, Site } from "../chaos.js";
import { chaosOf } from "../chaos.js";
import { chaosIterable, intercept } from "../intercept.js";

interface SqlSites {
  query: Site;
  queryOne: Site;
  execute: Site;
  stream: Site;
  insertMany: Site;
  transaction: Site;
}

function statementText(statement: SqlQuery, dialect: SqlDialect): string | undefined {
  try {
    return renderSql(statement, dialect).text;
  } catch {
    return undefined;
  }
}

function executor<E extends SqlExecutor>(inner: E, sites: SqlSites, dialect: () => SqlDialect): SqlExecutor {
  const text = (statement: SqlQuery) => () => statementText(statement, dialect());
  return {
    query: (statement, options) =>
      intercept(sites.query, text(statement), options?.signal, () => inner.query(statement, options)),
    queryOne: (statement, options) =>
      intercept(sites.queryOne, text(statement), options?.signal, () => inner.queryOne(statement, options)),
    execute: (statement, options) =>
      intercept(sites.execute, text(statement), options?.signal, () => inner.execute(statement, options)),
    stream: <Row>(statement: SqlQuery, options?: SqlStreamOptions) =>
      chaosIterable(sites.stream, text(statement), options?.signal, () =>
        inner.stream<Row>(statement, options),
      ),
    insertMany: (table, columns, rows, options) =>
      intercept(
        sites.insertMany,
        () => (typeof table === "string" ? table : Array.isArray(table) ? table.join(".") : undefined),
        options?.signal,
        () => inner.insertMany(table, columns, rows, options),
      ),
    transaction: (work, options) =>
      intercept(sites.transaction, undefined, options?.signal, () =>
        inner.transaction(typeof work === "function" ? (tx) => work(transaction(tx, sites)) : work, options),
      ),
  };
}

function transaction(tx: SqlTransaction, sites: SqlSites): SqlTransaction {
  return {
    ...executor(tx, sites, () => tx.dialect),
    get dialect() {
      return tx.dialect;
    },
  };
}

/**
 * A `SqlDatabase` with faults injected by `chaos` (or a chaos made from these options), in its
 * transactions too. Keys: the statement's text as the dialect renders it (`insertMany`: the table,
 * `schema.table` for a pair; `listen`: the channel); `ping` and `transaction` have none. `listen`
 * faults hit setting the listener up, never its notifications. A `stream` fault hits its first
 * row (`"before"`) or comes after its last (`"after"`).
 */
export function withChaosSqlDatabase(db: SqlDatabase, chaos: Chaos | ChaosOptions): SqlDatabase {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("sql", operation);
  const sites: SqlSites = {
    query: site("query"),
    queryOne: site("queryOne"),
    execute: site("execute"),
    stream: site("stream"),
    insertMany: site("insertMany"),
    transaction: site("transaction"),
  };
  const ping = site("ping");
  const listen = db.listen;
  const listenSite = site("listen");
  return {
    ...executor(db, sites, () => db.dialect),
    // Only where the adapter has it, so `listen` stays present exactly when the capability says so.
    ...(typeof listen === "function"
      ? {
          listen: (channel: string, onNotification: (payload: string) => void, options?: SqlListenOptions) =>
            intercept(
              listenSite,
              () => channel,
              options?.signal,
              () => listen.call(db, channel, onNotification, options),
            ),
        }
      : {}),
    get dialect() {
      return db.dialect;
    },
    get capabilities() {
      return db.capabilities;
    },
    ping: (options) => intercept(ping, undefined, options?.signal, () => db.ping(options)),
    close: () => db.close(),
    [Symbol.asyncDispose]: () => db.close(),
  };
}
