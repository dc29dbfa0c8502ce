export {
  createMysqlDatabase,
  type MysqlConnectionOptions,
  type MysqlDatabase,
  type MysqlDatabaseOptions,
} from "./mysql-database.js";
export type { ServerInfo as MysqlServerInfo } from "./mysql-values.js";
