import { createPgliteDatabase, type PgliteDatabase } from "@proj/adapter-pglite";
import { sqlDatabaseContract, uniqueName } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { afterAll, beforeAll } from "vitest";
import { instrumentSqlDatabase } from "../src/index.js";
import { Decorated, expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
const SESSION = { acquireTimeoutMs: 1_000 };

// One embedded engine for the file (starting PGlite takes seconds), a schema per test.
const admin = createPgliteDatabase({ schema: "public" });
beforeAll(() => admin.ping(), 120_000);

const databases = new Decorated<SqlDatabase, { db: PgliteDatabase; schema: string }>();

sqlDatabaseContract("adapter-pglite through instrumentSqlDatabase", {
  poolSize: 1,
  ...SESSION,
  cancelsRunningStatements: false,
  notifications: true,
  create: async () => {
    const schema = uniqueName("otel");
    return databases.wrap(
      { db: createPgliteDatabase({ pglite: admin.pglite, schema, ...SESSION }), schema },
      ({ db }) => instrumentSqlDatabase(db, { ...telemetry.options, recordQueryText: true }),
    );
  },
  destroy: async (db) => {
    await db.close();
    await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(databases.inner(db).schema)} CASCADE`);
  },
});
expectSpansRecordedAndClosed(telemetry, "SqlDatabase");

afterAll(async () => {
  await admin.close();
  await telemetry.shutdown();
});
