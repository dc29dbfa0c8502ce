export { mapMongoError } from "./map-mongodb-error.js";
export {
  createMongoDocumentDatabase,
  type MongoDocumentDatabase,
  type MongoDocumentDatabaseOptions,
  type MongoOperationOptions,
} from "./mongodb-document-database.js";
export type { IdMode } from "./mongodb-translate.js";
