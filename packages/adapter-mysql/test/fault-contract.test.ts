import { sqlFaultContract } from "@proj/contract-tests";
import { createMysqlDatabase } from "../src/index.js";
import { admin, createScratchDatabase } from "./support.js";

/** The adapter's documented deadlines, as configured below; 2 s is the KILL's grace period. */
const DEADLINES = { acquireMs: 1_500, callMs: 1_500, settleMs: 2_000 };

/** Transactions the server sees open for sessions in `database`, and what they lock. */
async function transactionsIn(database: string): Promise<{ open: number; locks: number }> {
  const rows = (await admin(
    `SELECT COUNT(*) AS open, COALESCE(SUM(t.trx_rows_locked + t.trx_tables_locked), 0) AS locks
       FROM information_schema.INNODB_TRX t
       JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
      WHERE p.DB = '${database}'`,
  )) as Array<{ open: number | string; locks: number | string }>;
  return { open: Number(rows[0]?.open ?? 0), locks: Number(rows[0]?.locks ?? 0) };
}

sqlFaultContract("MySQL (MariaDB)", {
  target: { host: "127.0.0.1", port: 3306 },
  deadlines: DEADLINES,
  // The server pushes a whole result at once; test/faults.test.ts silences a 100 MB stream instead.
  streamFetchesInBatches: false,
  async create({ host, port }, { poolSize }) {
    const scratch = await createScratchDatabase("mysql_fault_contract");
    const db = createMysqlDatabase({
      uri: `mysql://root@${host}:${port}`,
      database: scratch.name,
      poolSize,
      acquireTimeoutMs: DEADLINES.acquireMs,
      connectTimeoutMs: DEADLINES.acquireMs,
      timeoutMs: DEADLINES.callMs,
    });
    return {
      db,
      async countRows(table) {
        const rows = (await admin(
          `SELECT COUNT(*) AS n FROM \`${scratch.name}\`.\`${table.replaceAll("`", "``")}\``,
        )) as Array<{ n: number | string }>;
        return Number(rows[0]?.n ?? 0);
      },
      openTransactions: async () => (await transactionsIn(scratch.name)).open,
      heldLocks: async () => (await transactionsIn(scratch.name)).locks,
      async destroy() {
        await db.close();
        await scratch.drop();
      },
    };
  },
});
