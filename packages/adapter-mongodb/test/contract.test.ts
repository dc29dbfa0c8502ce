import { documentDatabaseContract } from "@proj/contract-tests";
import { dropTestDatabase, openTestDatabase, server } from "./server.js";

documentDatabaseContract(`mongodb (${server.kind})`, {
  create: () => openTestDatabase(),
  destroy: (database) => dropTestDatabase(database as Awaited<ReturnType<typeof openTestDatabase>>),
  ...(server.kind === "jongodb"
    ? {
        // jongodb runs multi-document transactions (it reports itself standalone; server.ts opts in).
        transactions: true,
        serverGaps: {
          dropCollection: "jongodb 0.1.6 has no drop command",
          missingSortsAsNull: "jongodb 0.1.6 sorts a missing field before null",
          insertManyKeepsPrefix: "jongodb 0.1.6 rejects a whole ordered batch on a conflict",
          updateSizeLimit: "jongodb 0.1.6 lets an update grow a document past 16 MiB",
        },
      }
    : {}),
});
