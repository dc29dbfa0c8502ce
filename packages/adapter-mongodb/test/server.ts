import { uniqueName } from "@proj/contract-tests";
import { inject } from "vitest";
import {
  createMongoDocumentDatabase,
  type MongoDocumentDatabase,
  type MongoDocumentDatabaseOptions,
} from "../src/index.js";

export const server = inject("mongodb");

/** jongodb runs multi-document transactions but reports itself standalone, so its runs opt in. */
const transactions = server.kind === "jongodb" ? true : undefined;

/** A database of its own for one test; `dropTestDatabase` removes it from a real server. */
export function openTestDatabase(
  options: Partial<MongoDocumentDatabaseOptions> = {},
): Promise<MongoDocumentDatabase> {
  return createMongoDocumentDatabase({
    url: server.url,
    database: uniqueName("docs"),
    ...(transactions === undefined ? {} : { transactions }),
    clientOptions: { serverSelectionTimeoutMS: 5_000 },
    ...options,
  });
}

/** jongodb has no dropDatabase; its data lives in the process the run stops. */
export async function dropTestDatabase(database: MongoDocumentDatabase): Promise<void> {
  if (server.kind === "real") {
    const reopened = await createMongoDocumentDatabase({
      url: server.url,
      database: database.db.databaseName,
    });
    try {
      await reopened.db.dropDatabase();
    } finally {
      await reopened.close();
    }
  }
  await database.close();
}
