import type { Socket } from "node:net";
import type { PoolConnection as CorePoolConnection } from "mysql2";
import { type Parameter, readBooleans } from "./mysql-values.js";

/** How long resetting a connection's session state may take before the connection is dropped. */
const RESET_BOUND_MS = 2_000;

/**
 * `send` found the connection closed before writing anything: the statement provably never
 * reached the server, so it may run on another connection.
 */
export class NotSentError extends Error {
  readonly code = "ADAPTER_NOT_SENT";
  readonly fatal = true;
}

/**
 * The adapter destroyed the connection while a statement was pending (deadline, abort, close).
 * mysql2 never calls back once its socket is gone, so the lease answers for it.
 */
export class ConnectionDestroyedError extends Error {
  readonly code = "ADAPTER_CONNECTION_DESTROYED";
  readonly fatal = true;
}

/** The parts of mysql2's connection state the lease reads; mysql2 does not type them. */
interface CoreState {
  stream?: Socket;
  _fatalError?: unknown;
  _protocolError?: unknown;
  _closing?: boolean;
}

/** Destroys the socket itself: mysql2's `destroy()` only half-closes it (FIN), which a dead path never completes. */
export function destroyCore(core: CorePoolConnection): void {
  core.destroy();
  (core as unknown as CoreState).stream?.destroy();
}

/**
 * One pooled connection checked out for a statement, a stream or a transaction. It drives mysql2's
 * callback API directly: one promise per statement, no per-call wrapper objects.
 */
export class Lease {
  #done = false;
  #pending: ((error: Error) => void) | undefined;

  constructor(
    readonly core: CorePoolConnection,
    private readonly onDone: (lease: Lease) => void,
    /** What `recycle` runs after the reset to restore the adapter's session settings. */
    private readonly restoreSession: () => readonly string[] = () => [],
  ) {}

  get threadId(): number {
    return this.core.threadId;
  }

  get isDone(): boolean {
    return this.#done;
  }

  /** False once the socket is known closed: nothing written now could reach the server. */
  get sendable(): boolean {
    const state = this.core as unknown as CoreState;
    const stream = state.stream;
    return (
      !this.#done &&
      !state._fatalError &&
      !state._protocolError &&
      !state._closing &&
      stream !== undefined &&
      !stream.destroyed &&
      !stream.readableEnded &&
      stream.writable
    );
  }

  /**
   * Runs one statement: over the text protocol without parameters, prepared and bound with them.
   * Rows come back with BOOLEAN (TINYINT(1)) columns read as booleans.
   */
  send(text: string, values: readonly Parameter[] = []): Promise<unknown> {
    return this.#call((done) => {
      const answer = (error: unknown, rows: unknown, fields: unknown) => {
        if (!error) readBooleans(rows, fields);
        done(error, rows);
      };
      if (values.length === 0) this.core.query(text, answer);
      else this.core.execute(text, values as Parameter[], answer);
    });
  }

  ping(): Promise<void> {
    return this.#call((done) => this.core.ping((error) => done(error, undefined))).then(() => undefined);
  }

  #call(start: (done: (error: unknown, result: unknown) => void) => void): Promise<unknown> {
    if (!this.sendable) return Promise.reject(new NotSentError("the MySQL connection was already closed"));
    return new Promise((resolve, reject) => {
      this.#pending = reject;
      start((error, result) => {
        this.#pending = undefined;
        if (error) reject(error);
        else resolve(result);
      });
    });
  }

  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.core.release();
    this.onDone(this);
  }

  /**
   * Returns the connection with its session state reset (COM_RESET_CONNECTION: variables,
   * temporary tables, prepared statements; then the login role and the UTC time zone are set
   * again), so the next caller inherits nothing from this one. Resolves once the connection is
   * back in the pool, or dropped when the reset failed or took longer than 2 s. Never rejects.
   */
  recycle(): Promise<void> {
    if (this.#done) return Promise.resolve();
    const sendable = this.sendable;
    this.#done = true;
    return new Promise((resolve) => {
      let finished = false;
      const finish = (healthy: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (healthy) this.core.release();
        else destroyCore(this.core);
        this.onDone(this);
        resolve();
      };
      const timer = setTimeout(() => finish(false), RESET_BOUND_MS);
      if (!sendable) {
        finish(false);
        return;
      }
      // Queued together: mysql2 runs them in order, and the last one's answer settles it all.
      let failed = false;
      const steps = [
        (done: (error: unknown) => void) => this.core.reset(done),
        ...this.restoreSession().map(
          (text) => (done: (error: unknown) => void) => this.core.query(text, (error) => done(error)),
        ),
      ];
      for (const [index, step] of steps.entries()) {
        step((error) => {
          failed ||= Boolean(error);
          if (index === steps.length - 1) finish(!failed);
        });
      }
    });
  }

  /**
   * Drops the connection instead of returning it: its state is unknown or it is broken. A
   * statement still waiting on it is rejected now.
   */
  destroy(): void {
    if (this.#done) return;
    this.#done = true;
    destroyCore(this.core);
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(new ConnectionDestroyedError("the MySQL connection was destroyed before it answered"));
    this.onDone(this);
  }
}
