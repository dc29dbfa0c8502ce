export { createPgliteDatabase, type PgliteDatabase, type PgliteDatabaseOptions } from "./pglite-database.js";
