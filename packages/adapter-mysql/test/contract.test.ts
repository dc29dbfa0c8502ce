import { sqlDatabaseContract } from "@proj/contract-tests";
import type { SqlDatabase } from "@proj/ports";
import { createMysqlDatabase } from "../src/index.js";
import { admin, createScratchDatabase, MYSQL_URI } from "./support.js";

const poolSize = 4;
const acquireTimeoutMs = 1_000;
const scratch = new WeakMap<SqlDatabase, { name: string; drop(): Promise<void> }>();

sqlDatabaseContract("MySQL (MariaDB)", {
  poolSize,
  acquireTimeoutMs,
  async create() {
    const database = await createScratchDatabase("mysql_contract");
    const db = createMysqlDatabase({ uri: MYSQL_URI, database: database.name, poolSize, acquireTimeoutMs });
    // The first connection tells the server version, and with it capabilities.returning.
    await db.ping();
    scratch.set(db, database);
    return db;
  },
  async destroy(db) {
    await db.close();
    await scratch.get(db)?.drop();
  },
  async terminateConnections(db) {
    const name = scratch.get(db)?.name;
    const threads = (await admin(
      `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '${name}' AND ID <> CONNECTION_ID()`,
    )) as Array<{ id: number }>;
    for (const { id } of threads) await admin(`KILL ${Number(id)}`);
  },
  createUnreachable: () =>
    createMysqlDatabase({ uri: "mysql://root@127.0.0.1:1", acquireTimeoutMs, poolSize }),
});
