import { type ConnectionOptions, createConnection } from "mysql2";

/**
 * Stops statements on the server. A running statement holds its connection's protocol, so the
 * `KILL` has to travel over another one: a short-lived side connection per kill, which needs no
 * free pool slot and survives server restarts. Killing a thread that has already finished its
 * statement is harmless: MySQL and MariaDB clear a pending KILL QUERY when the next statement
 * starts.
 */
export class StatementKiller {
  readonly #options: ConnectionOptions;

  constructor(options: ConnectionOptions) {
    // The side connection only issues KILL: it needs no database (which may be gone by then).
    const { database: _database, ...rest } = options;
    this.#options = rest;
  }

  /** Interrupts the statement running on `threadId` (`KILL QUERY`). Never rejects. */
  kill(threadId: number): Promise<void> {
    return new Promise((resolve) => {
      const connection = createConnection(this.#options);
      // Failures are dropped on purpose: the caller falls back to destroying its own socket.
      connection.on("error", () => {});
      connection.query(`KILL QUERY ${Number(threadId)}`, () => {
        connection.destroy();
        resolve();
      });
    });
  }
}
