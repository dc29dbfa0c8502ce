import { connect, createServer, type Server, type Socket } from "node:net";
import { expectErrorCode, sleep } from "@proj/contract-tests";
import { type InfrastructureError, sql } from "@proj/ports";
import { afterEach, describe, expect, it } from "vitest";
import { createPostgresDatabase, type PostgresDatabase } from "../src/index.js";

/**
 * A TCP relay in front of the local server. Stopping it drops every connection and refuses new
 * ones, as a server restart does; starting it again on the same port is the server coming back.
 */
class Relay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(5432, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("close", () => this.#sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    const address = server.address();
    if (address !== null && typeof address === "object") this.port = address.port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let relay: Relay | undefined;
let db: PostgresDatabase | undefined;

afterEach(async () => {
  await db?.close();
  await relay?.stop();
});

describe("server restart", () => {
  it("drops idle connections without crashing, is UNAVAILABLE while down, and works again once back", async () => {
    relay = new Relay();
    await relay.start();
    const idleErrors: InfrastructureError[] = [];
    db = createPostgresDatabase({
      connectionString: `postgres://postgres@127.0.0.1:${relay.port}/test`,
      poolSize: 3,
      acquireTimeoutMs: 2_000,
      onIdleError: (error) => idleErrors.push(error),
    });
    await Promise.all([1, 2, 3].map(() => db?.query(sql`SELECT pg_sleep(0.05)`)));

    await relay.stop();
    await sleep(100);
    expect(idleErrors.length).toBeGreaterThan(0);
    expect(idleErrors.every((error) => error.code === "UNAVAILABLE")).toBe(true);
    await expectErrorCode(db.ping(), "UNAVAILABLE");

    await relay.start();
    const rows = await Promise.all(
      [1, 2, 3, 4].map((n) => db?.queryOne<{ n: number }>(sql`SELECT ${n}::int AS n`)),
    );
    expect(rows.map((row) => row?.n)).toEqual([1, 2, 3, 4]);
  });

  it("a transaction cut off by the restart rejects with UNAVAILABLE and writes nothing", async () => {
    relay = new Relay();
    await relay.start();
    db = createPostgresDatabase({
      connectionString: `postgres://postgres@127.0.0.1:${relay.port}/test`,
      poolSize: 1,
    });
    const table = `restart_${process.pid}_${Date.now()}`;
    await db.execute(sql`CREATE TABLE ${sql.id(table)} (id INTEGER)`);
    try {
      const outcome = db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO ${sql.id(table)} (id) VALUES (${1})`);
        await relay?.stop();
        await relay?.start();
        await tx.execute(sql`INSERT INTO ${sql.id(table)} (id) VALUES (${2})`);
      });
      await expectErrorCode(outcome, "UNAVAILABLE");
      expect(await db.query(sql`SELECT id FROM ${sql.id(table)}`)).toEqual([]);
    } finally {
      await db.execute(sql`DROP TABLE ${sql.id(table)}`);
    }
  });
});
