import { uniqueName } from "@proj/contract-tests";
import { createConnection } from "mysql2/promise";
import { createMysqlDatabase, type MysqlDatabase, type MysqlDatabaseOptions } from "../src/index.js";

/** The MariaDB (or MySQL) server the tests run against. */
export const MYSQL_URI = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

/** Runs one statement on a connection of its own, outside any pool under test. */
export async function admin(statement: string): Promise<unknown> {
  const connection = await createConnection({ uri: MYSQL_URI });
  try {
    const [result] = await connection.query(statement);
    return result;
  } finally {
    await connection.end();
  }
}

/** A database of its own for one test file or test, dropped by `drop`. */
export async function createScratchDatabase(
  prefix = "mysql_adapter",
): Promise<{ name: string; drop(): Promise<void> }> {
  const name = uniqueName(prefix);
  await admin(`CREATE DATABASE \`${name}\``);
  return { name, drop: async () => void (await admin(`DROP DATABASE IF EXISTS \`${name}\``)) };
}

/** An adapter on a fresh database; `dispose` closes it and drops the database. */
export async function openScratch(
  options: Omit<MysqlDatabaseOptions, "uri" | "database"> = {},
): Promise<{ db: MysqlDatabase; name: string; dispose(): Promise<void> }> {
  const scratch = await createScratchDatabase();
  const db = createMysqlDatabase({ uri: MYSQL_URI, database: scratch.name, ...options });
  return {
    db,
    name: scratch.name,
    dispose: async () => {
      await db.close();
      await scratch.drop();
    },
  };
}
