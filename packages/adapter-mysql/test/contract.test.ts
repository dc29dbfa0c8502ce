import { sqlDatabaseContract } from "@proj/contract-tests";
import { createMysqlDatabase } from "../src/index.js";
import { createScratchDatabase, MYSQL_URI } from "./support.js";

const poolSize = 4;
const acquireTimeoutMs = 1_000;
const scratch = new WeakMap<object, () => Promise<void>>();

sqlDatabaseContract("MySQL (MariaDB)", {
  poolSize,
  acquireTimeoutMs,
  async create() {
    const database = await createScratchDatabase("mysql_contract");
    const db = await createMysqlDatabase({
      uri: MYSQL_URI,
      database: database.name,
      poolSize,
      acquireTimeoutMs,
    });
    scratch.set(db, database.drop);
    return db;
  },
  async destroy(db) {
    await db.close();
    await scratch.get(db)?.();
  },
});
