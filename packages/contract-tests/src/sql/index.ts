import { describe } from "vitest";
import { useFreshAdapter } from "../harness.js";
import { bindingTests } from "./binding.js";
import type { SqlContractContext, SqlDatabaseHarness } from "./context.js";
import { errorTests } from "./errors.js";
import { insertManyTests } from "./insert-many.js";
import { lifecycleTests } from "./lifecycle.js";
import { notificationTests } from "./notifications.js";
import { queryTests } from "./queries.js";
import { streamingTests } from "./streaming.js";
import { transactionTests } from "./transactions.js";
import { typeTests } from "./types.js";

export type { SqlDatabaseHarness } from "./context.js";

/**
 * Certifies a `SqlDatabase` adapter against the port's contract, with portable DDL and SQL only, so
 * one suite runs unchanged on PostgreSQL, MySQL/MariaDB and PGlite.
 */
export function sqlDatabaseContract(name: string, harness: SqlDatabaseHarness): void {
  describe(`SqlDatabase contract: ${name}`, () => {
    const db = useFreshAdapter(harness);
    const context: SqlContractContext = { harness, db };
    queryTests(context);
    bindingTests(context);
    typeTests(context);
    transactionTests(context);
    streamingTests(context);
    insertManyTests(context);
    errorTests(context);
    lifecycleTests(context);
    notificationTests(context);
  });
}
