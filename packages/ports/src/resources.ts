/**
 * Anything that holds a connection, a pool, a timer or a file handle.
 *
 * Contract: `close()` releases every resource and resolves once they are released; it is idempotent
 * (a second call resolves and does nothing). After `close()`, every other method fails with a
 * `CLOSED` error rather than hanging or reopening. `Symbol.asyncDispose` calls `close()`, so
 * `await using store = createX(...)` works where the runtime or a transpiler supports it.
 */
export interface Closeable {
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options every potentially slow operation accepts. */
export interface OperationOptions {
  /**
   * Cancels the operation. The call rejects with `CANCELLED` (or `TIMEOUT` when the signal came
   * from `AbortSignal.timeout`), and the adapter stops the work on the backend where it can.
   */
  signal?: AbortSignal;
}

/** A JSON value, as stored by caches, documents and tenant settings. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One page of a keyset-paginated listing. `nextCursor` is absent on the last page. */
export interface Page<T> {
  items: T[];
  /** Opaque; pass it back as `after` to get the next page. */
  nextCursor?: string;
}
