import { once } from "node:events";
import type { Socket } from "node:net";
import { type Connection, type ConnectionOptions, createConnection } from "mysql2";

/**
 * Stops statements on the server. A running statement holds its connection's protocol, so the
 * `KILL` has to travel over another one: a short-lived side connection per kill, which needs no
 * free pool slot and survives server restarts. Killing a thread that has already finished its
 * statement is harmless: MySQL and MariaDB clear a pending KILL QUERY when the next statement
 * starts.
 */
export class StatementKiller {
  readonly #options: ConnectionOptions;
  readonly #open = new Set<Connection>();
  readonly #closing = new Set<Promise<void>>();

  constructor(
    options: ConnectionOptions,
    /** A kill that has not landed by then is given up: the network may be what failed. */
    private readonly boundMs: number,
  ) {
    // The side connection only issues KILL: it needs no database (which may be gone by then).
    const { database: _database, ...rest } = options;
    this.#options = { ...rest, connectTimeout: boundMs };
  }

  /** Interrupts the statement running on `threadId` (`KILL QUERY`). Never rejects; settles within the bound. */
  kill(threadId: number): Promise<void> {
    return new Promise((resolve) => {
      const connection = createConnection(this.#options);
      this.#open.add(connection);
      const finish = () => {
        clearTimeout(timer);
        this.#open.delete(connection);
        this.#track(destroy(connection));
        resolve();
      };
      const timer = setTimeout(finish, this.boundMs);
      // Failures are dropped on purpose: the caller falls back to destroying its own socket.
      connection.on("error", () => {});
      connection.query(`KILL QUERY ${Number(threadId)}`, finish);
    });
  }

  /** Drops every side connection still open and resolves once their sockets are closed. */
  async close(): Promise<void> {
    for (const connection of this.#open) this.#track(destroy(connection));
    this.#open.clear();
    await Promise.all(this.#closing);
  }

  #track(socket: Socket | undefined): void {
    if (!socket || socket.closed) return;
    const closing = once(socket, "close").then(() => {
      this.#closing.delete(closing);
    });
    this.#closing.add(closing);
  }
}

function destroy(connection: Connection): Socket | undefined {
  const socket = (connection as unknown as { stream?: Socket }).stream;
  connection.destroy();
  socket?.destroy();
  return socket;
}
