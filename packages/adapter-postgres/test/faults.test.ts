import { sqlFaultContract, uniqueName } from "@proj/contract-tests";
import { sql } from "@proj/ports";
import { afterAll } from "vitest";
import { createPostgresDatabase } from "../src/index.js";
import { admin } from "./support.js";

const DEADLINES = { acquireMs: 1_500, callMs: 1_500, settleMs: 500 };

sqlFaultContract("PostgreSQL (pg)", {
  target: { host: "127.0.0.1", port: 5432 },
  deadlines: DEADLINES,
  notifications: true,
  async create({ host, port }, { poolSize }) {
    const schema = uniqueName("pgf");
    await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
    const db = createPostgresDatabase({
      host,
      port,
      user: "postgres",
      database: "test",
      schema,
      applicationName: schema,
      poolSize,
      acquireTimeoutMs: DEADLINES.acquireMs,
      timeoutMs: DEADLINES.callMs,
      cancelGraceMs: DEADLINES.settleMs,
    });
    const mine = sql`application_name = ${schema}`;
    return {
      db,
      async countRows(table) {
        const row = await admin.queryOne<{ n: number }>(
          sql`SELECT COUNT(*)::int AS n FROM ${sql.id(schema, table)}`,
        );
        return row?.n ?? 0;
      },
      async openTransactions() {
        const row = await admin.queryOne<{ n: number }>(
          sql`SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE ${mine} AND xact_start IS NOT NULL`,
        );
        return row?.n ?? 0;
      },
      async heldLocks() {
        const row = await admin.queryOne<{ n: number }>(
          sql`SELECT COUNT(*)::int AS n FROM pg_locks JOIN pg_stat_activity USING (pid) WHERE ${mine}`,
        );
        return row?.n ?? 0;
      },
      async destroy() {
        await db.close();
        await admin.execute(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${mine}`);
        await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
      },
    };
  },
});

afterAll(() => admin.close());
