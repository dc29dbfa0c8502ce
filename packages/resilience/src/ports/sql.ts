import {
  cancelledError,
  type SqlDatabase,
  type SqlListener,
  type SqlListenOptions,
  type SqlQuery,
  type SqlStreamOptions,
} from "@proj/ports";
import {
  type Held,
  type Operation,
  policyOf,
  type ResilienceOptions,
  type ResiliencePolicy,
} from "../policy.js";
import { CALLER_CODE, callerCode, callerRows, once, withSignal } from "../shared.js";

const marked = new WeakSet<SqlQuery>();

/**
 * Marks a statement as safe to run twice (a read, an upsert, `UPDATE … SET x = 1 WHERE id = …`), so
 * that a resilient `SqlDatabase` retries it. Returns the same statement. Only that object is marked:
 * a statement built from it (`sql\`${marked} LIMIT 1\``) is a new, unmarked one.
 */
export function idempotent<Q extends SqlQuery>(query: Q): Q {
  marked.add(query);
  return query;
}

/** Whether `idempotent` marked this statement. */
export function isMarkedIdempotent(query: SqlQuery): boolean {
  return marked.has(query);
}

export interface SqlResilienceOptions {
  /**
   * Treat every statement run by `query`, `queryOne` and `stream` as a read, safe to retry, without
   * marking it. Default false: only `ping` and statements marked with `idempotent` are retried,
   * since `INSERT … RETURNING` runs through `query` too.
   */
  assumeQueriesIdempotent?: boolean;
}

/**
 * A `SqlDatabase` whose calls go through `policy` (or a policy made from these options).
 *
 * Retried: `ping`, the setup of a `listen`, and statements marked with `idempotent` (or, with `assumeQueriesIdempotent`,
 * every `query`, `queryOne` and `stream`). Never retried: any other statement, `insertMany` and
 * `transaction`. A `stream` is retried only until its first row arrives; the policy's deadline
 * covers that wait, and its bulkhead slot is held until the iteration ends. A transaction holds a
 * slot for its whole run; the statements inside it go to the adapter's transaction directly (one
 * statement of a transaction is never retried alone). What the transaction's work throws, a
 * statement's failure included, never counts as a failure of the database for the breaker: the
 * transaction's own begin and commit do.
 */
export function withResilienceSqlDatabase(
  db: SqlDatabase,
  policy: ResiliencePolicy | ResilienceOptions = {},
  options: SqlResilienceOptions = {},
): SqlDatabase {
  const p = policyOf(policy);
  const assume = options.assumeQueriesIdempotent === true;
  const pair = (name: string, unmarkedIdempotent: boolean) => ({
    again: p.operation("sql", name, { idempotent: true }),
    once: p.operation("sql", name, { idempotent: unmarkedIdempotent }),
  });
  const query = pair("query", assume);
  const queryOne = pair("queryOne", assume);
  const execute = pair("execute", false);
  const stream = pair("stream", assume);
  const pick = (ops: { again: Operation; once: Operation }, statement: SqlQuery) =>
    marked.has(statement) ? ops.again : ops.once;
  const ping = p.operation("sql", "ping", { idempotent: true });
  const insertMany = p.operation("sql", "insertMany", { idempotent: false, runsCallerCode: true });
  const transaction = p.operation("sql", "transaction", { idempotent: false, runsCallerCode: true });
  // Setting a listener up is safe to repeat: an adapter drops a listener whose setup failed.
  const listenOp = p.operation("sql", "listen", { idempotent: true });
  const listen = db.listen;
  return {
    // Only where the adapter has it, so `listen` stays present exactly when the capability says so.
    ...(typeof listen === "function"
      ? {
          listen: (
            channel: string,
            onNotification: (payload: string) => void,
            callOptions?: SqlListenOptions,
          ) =>
            p.run(listenOp, callOptions?.signal, (signal) =>
              setUpWithin(signal, () => listen.call(db, channel, onNotification, callOptions)),
            ),
        }
      : {}),
    get dialect() {
      return db.dialect;
    },
    get capabilities() {
      return db.capabilities;
    },
    ping: (callOptions) =>
      p.run(ping, callOptions?.signal, (signal) => db.ping(withSignal(callOptions, signal))),
    query: (statement, callOptions) =>
      p.run(pick(query, statement), callOptions?.signal, (signal) =>
        db.query(statement, withSignal(callOptions, signal)),
      ),
    queryOne: (statement, callOptions) =>
      p.run(pick(queryOne, statement), callOptions?.signal, (signal) =>
        db.queryOne(statement, withSignal(callOptions, signal)),
      ),
    execute: (statement, callOptions) =>
      p.run(pick(execute, statement), callOptions?.signal, (signal) =>
        db.execute(statement, withSignal(callOptions, signal)),
      ),
    stream: <Row>(statement: SqlQuery, callOptions?: SqlStreamOptions): AsyncIterable<Row> => ({
      [Symbol.asyncIterator]: () =>
        resilientRows<Row>(p, pick(stream, statement), db, statement, callOptions),
    }),
    insertMany: (table, columns, rows, callOptions) =>
      p.run(
        insertMany,
        callOptions?.signal,
        (signal) => db.insertMany(table, columns, callerRows(rows), withSignal(callOptions, signal)),
        CALLER_CODE,
      ),
    transaction: (work, callOptions) =>
      p.run(
        transaction,
        callOptions?.signal,
        (signal) =>
          db.transaction(
            typeof work === "function" ? callerCode(work) : work,
            withSignal(callOptions, signal),
          ),
        CALLER_CODE,
      ),
    close: () => db.close(),
    [Symbol.asyncDispose]: () => db.close(),
  };
}

/**
 * The listener, unless `signal` (the policy's deadline, which also fires once the call returns)
 * fires first. The adapter gets the caller's own options: a signal it is given closes the listener
 * whenever it fires, so the policy's must stop at the setup. A listener that comes after the
 * policy gave up is closed at once.
 */
function setUpWithin(
  signal: AbortSignal | undefined,
  start: () => Promise<SqlListener>,
): Promise<SqlListener> {
  const setup = start();
  if (signal === undefined) return setup;
  return new Promise<SqlListener>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(cancelledError(signal, "listen"));
      setup.then(
        (listener) => listener.close(),
        () => undefined,
      );
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    setup.then(
      (listener) => {
        signal.removeEventListener("abort", onAbort);
        if (!settled) resolve(listener);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (!settled) reject(error);
      },
    );
  });
}

interface Opened<Row> {
  rows: AsyncIterator<Row>;
  first: IteratorResult<Row>;
}

/** The adapter's rows: the first `next()` goes through the policy, the rest straight to the cursor. */
function resilientRows<Row>(
  p: ResiliencePolicy,
  operation: Operation,
  db: SqlDatabase,
  statement: SqlQuery,
  options: SqlStreamOptions | undefined,
): AsyncIterator<Row> {
  let opening: Promise<Held<Opened<Row>>> | undefined;
  let rows: AsyncIterator<Row> | undefined;
  let release = () => {};
  const open = () =>
    p.open(
      operation,
      options?.signal,
      async (signal): Promise<Opened<Row>> => {
        const iterator = db.stream<Row>(statement, withSignal(options, signal))[Symbol.asyncIterator]();
        try {
          return { rows: iterator, first: await iterator.next() };
        } catch (error) {
          await iterator.return?.().catch(() => undefined);
          throw error;
        }
      },
      { abandon: (opened) => void opened.rows.return?.().catch(() => undefined) },
    );
  return {
    async next() {
      if (opening === undefined) {
        opening = open();
        const held = await opening;
        rows = held.value.rows;
        release = once(held.release);
        if (held.value.first.done) release();
        return held.value.first;
      }
      await opening;
      try {
        const result = await (rows as AsyncIterator<Row>).next();
        if (result.done) release();
        return result;
      } catch (error) {
        release();
        throw error;
      }
    },
    async return(value?: unknown) {
      try {
        if (opening !== undefined) await opening.catch(() => undefined);
        if (rows?.return) return await rows.return(value);
        return { done: true, value: value as Row };
      } finally {
        release();
      }
    },
  };
}
