import { documentDatabaseContract } from "@proj/contract-tests";
import { dropTestDatabase, openTestDatabase, server } from "./server.js";

documentDatabaseContract(`mongodb (${server.kind})`, {
  create: () => openTestDatabase(),
  destroy: (database) => dropTestDatabase(database as Awaited<ReturnType<typeof openTestDatabase>>),
  ...(server.kind === "jongodb"
    ? {
        serverGaps: {
          dropCollection: "jongodb 0.1.6 has no drop command",
          missingSortsAsNull: "jongodb 0.1.6 sorts a missing field before null",
          insertManyKeepsPrefix: "jongodb 0.1.6 rejects a whole ordered batch on a conflict",
        },
      }
    : {}),
});
