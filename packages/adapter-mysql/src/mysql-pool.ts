import { once } from "node:events";
import type { Socket } from "node:net";
import { cancelledError, closedError, InfrastructureError } from "@proj/ports";
import type { Pool as CorePool, PoolConnection as CorePoolConnection } from "mysql2";
import type { ConnectionGate } from "./connection-gate.js";
import { mapMysqlError } from "./map-mysql-error.js";
import { destroyCore, Lease } from "./mysql-lease.js";

/** First pause after a failed connection attempt; it doubles per failure, with jitter. */
const BACKOFF_BASE_MS = 100;
/** Longest pause between connection attempts while the server stays unreachable. */
export const BACKOFF_MAX_MS = 2_000;
/** How long `close()` waits for the server to acknowledge QUIT before dropping the sockets. */
const QUIT_BOUND_MS = 1_000;
/**
 * A connection handed back less than this long ago (ms) is reused at once; one idle for longer
 * first waits one turn of the event loop (see `acquire`).
 */
const IDLE_CHECK_AFTER_MS = 1;

/**
 * The connections of one database: mysql2's pool behind the adapter's own queue (`ConnectionGate`),
 * with a deadline on every acquire, spaced reconnect attempts during an outage, and a close that
 * ends only when every socket is gone.
 */
export class LeasePool {
  readonly #sockets = new Map<Socket, Promise<void>>();
  readonly #leases = new Set<Lease>();
  /** When each connection was last handed back (`performance.now()`), once it has served a call. */
  readonly #releasedAt = new WeakMap<CorePoolConnection, number>();
  #failures = 0;
  #nextDialAt = 0;
  #lastDialError: InfrastructureError | undefined;
  #closed = false;

  constructor(
    private readonly pool: CorePool,
    private readonly gate: ConnectionGate,
    private readonly endpoint: string,
    /** Statements that put a connection's session back as it was at login, after a reset. */
    private readonly restoreSession: (core: CorePoolConnection) => readonly string[],
  ) {
    pool.on("connection", (core: CorePoolConnection) => {
      const socket = (core as unknown as { stream?: Socket }).stream;
      if (!socket || socket.closed) return;
      this.#sockets.set(
        socket,
        once(socket, "close").then(
          () => void this.#sockets.delete(socket),
          () => void this.#sockets.delete(socket),
        ),
      );
    });
  }

  /** Sockets open right now (idle, in use, or being reset). */
  get openSockets(): number {
    return this.#sockets.size;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * A connection for one call, by `deadline` (epoch ms, `Infinity` for none). While the server is
   * unreachable, new connections are attempted no faster than a jittered back-off (100 ms doubling
   * to 2 s): a call that would need one waits for the next attempt, or fails at once with the last
   * connection error when that comes after its deadline.
   */
  async acquire(signal: AbortSignal | undefined, deadline: number): Promise<Lease> {
    await this.gate.acquire(signal, deadline - Date.now());
    try {
      if (this.#closed) throw closedError("MySQL database");
      // The pool opens a connection only when none is idle; only then does the back-off apply.
      const needsDial = this.#sockets.size < this.gate.inUse;
      const wait = this.#nextDialAt - Date.now();
      if (needsDial && this.#lastDialError && wait > 0) {
        if (Date.now() + wait >= deadline) throw this.#lastDialError;
        await pause(wait, signal);
      }
      const core = await this.#dial(signal, deadline);
      const releasedAt = this.#releasedAt.get(core);
      if (releasedAt !== undefined && performance.now() - releasedAt >= IDLE_CHECK_AFTER_MS) {
        // A connection that sat idle may have been closed by the server (restart, KILL, timeout)
        // with the news already in the socket buffer: one turn of the event loop reads it, so
        // the statement is not written to a dead connection, where its fate could not be told.
        // One handed back within the last millisecond answered its last statement just now and
        // skips the turn, which costs about 10 µs of CPU per statement (an extra poll of the
        // event loop; measured on point selects at concurrency 1). A close landing in that
        // millisecond is reported like one landing just after the check: outcome unknown.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const lease = new Lease(
        core,
        (done) => {
          this.#releasedAt.set(core, performance.now());
          this.#leases.delete(done);
          this.gate.release();
        },
        () => this.restoreSession(core),
      );
      this.#leases.add(lease);
      return lease;
    } catch (error) {
      this.gate.release();
      throw error;
    }
  }

  async #dial(signal: AbortSignal | undefined, deadline: number): Promise<CorePoolConnection> {
    let late = false;
    const dialing = new Promise<CorePoolConnection>((resolve, reject) =>
      this.pool.getConnection((error, core) => {
        if (late) {
          // The caller left (deadline, abort): the connection goes back unused, the permit was returned.
          if (!error) core.release();
          return;
        }
        if (error) reject(error);
        else resolve(core);
      }),
    );
    try {
      const core = await bound(dialing, signal, deadline, "Waiting for a MySQL connection");
      this.#failures = 0;
      this.#lastDialError = undefined;
      return core;
    } catch (error) {
      late = true;
      if (error instanceof InfrastructureError) throw error;
      if (this.#closed) throw closedError("MySQL database");
      const failure = mapMysqlError(error, { what: `Connecting to MySQL at ${this.endpoint}` });
      this.#failures += 1;
      const pause = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.#failures - 1));
      this.#nextDialAt = Date.now() + pause / 2 + Math.random() * (pause / 2);
      this.#lastDialError = failure;
      throw failure;
    }
  }

  /**
   * Waits up to `drainMs` for calls in flight, destroys what is still checked out, asks the server
   * to QUIT the rest, and resolves once every socket is closed. Every connection keeps its error
   * listener, so a server that drops them meanwhile cannot raise an unhandled error.
   */
  async close(drainMs: number): Promise<void> {
    this.#closed = true;
    if (Number.isFinite(drainMs)) await Promise.race([this.gate.whenIdle(), pause(drainMs)]);
    else await this.gate.whenIdle();
    for (const lease of [...this.#leases]) lease.destroy();
    await Promise.race([
      new Promise<void>((resolve) => this.pool.end(() => resolve())),
      pause(QUIT_BOUND_MS),
    ]);
    for (const socket of this.#sockets.keys()) socket.destroy();
    await Promise.all(this.#sockets.values());
    // mysql2 keeps connections that were still opening; they close on their own, bounded by connectTimeout.
    for (const core of liveConnections(this.pool)) destroyCore(core);
  }
}

/** Connections mysql2's pool still lists (after `end()`, those that were mid-handshake). */
function liveConnections(pool: CorePool): CorePoolConnection[] {
  const all = (pool as unknown as { _allConnections?: { toArray(): CorePoolConnection[] } })._allConnections;
  return all?.toArray() ?? [];
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError(signal as AbortSignal, "Waiting for a MySQL connection"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `work`, or `TIMEOUT` at `deadline` / `CANCELLED` on `signal`, whichever comes first. */
export function bound<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  deadline: number,
  what: string,
): Promise<T> {
  if (!signal && !Number.isFinite(deadline)) return work;
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(cancelledError(signal as AbortSignal, what));
    };
    const timer = Number.isFinite(deadline)
      ? setTimeout(
          () => {
            cleanup();
            reject(
              new InfrastructureError("TIMEOUT", `${what}: the call's deadline passed`, { retryable: true }),
            );
          },
          Math.max(0, deadline - Date.now()),
        )
      : undefined;
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}
