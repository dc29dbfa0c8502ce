export {
  createMysqlDatabase,
  type ManagedOption as MysqlManagedOption,
  type MysqlConnectionOptions,
  type MysqlDatabase,
  type MysqlDatabaseOptions,
} from "./mysql-database.js";
export type { ServerInfo as MysqlServerInfo } from "./mysql-values.js";
