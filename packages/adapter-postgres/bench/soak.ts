// Soak under faults: 32 callers run mixed reads and writes through a FaultProxy that cycles the
// faults of the fault suite, for a bounded time, on loopback only. Then every write is checked on
// the server: none lost, none duplicated, none where the adapter reported a known failure.
//   pnpm --filter @proj/adapter-postgres soak            (SOAK_SECONDS=120 to shorten; default 600)
// Needs the workspace built (`pnpm build`) for @proj/ports and @proj/contract-tests.
import { randomBytes } from "node:crypto";
import { cycleFaults, FaultProxy, SoakCalls, type SoakFault, type SoakOutcome } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { createPostgresDatabase, type PostgresDatabase } from "../src/index.js";

const TARGET_URL = new URL(process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test");
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CALLERS = Number(process.env.SOAK_CALLERS ?? 32);
const PHASE_MS = Number(process.env.SOAK_PHASE_MS ?? 3_000);
const POOL_SIZE = 8;
const DEADLINES = { acquireTimeoutMs: 2_000, timeoutMs: 2_000, cancelGraceMs: 500 };
/** Event-loop lag a loaded 2-core machine adds on top of a deadline before a timer runs. */
const LAG_MS = 1_000;
const STATEMENT_BOUND = DEADLINES.timeoutMs + DEADLINES.cancelGraceMs + LAG_MS;

if (!["127.0.0.1", "localhost", "[::1]"].includes(TARGET_URL.hostname)) {
  throw new Error("the soak runs on loopback only: point POSTGRES_URL at 127.0.0.1");
}
if (!(SECONDS > 0 && SECONDS <= 3_600)) throw new Error("SOAK_SECONDS must be between 1 and 3600");

const FAULTS: SoakFault[] = [
  { mode: "pass", latencyMs: 40 },
  { mode: "silent" },
  { mode: "lose-replies" },
  { mode: "cut-on-reply-close" },
  { mode: "cut-on-reply-reset" },
  { mode: "cut-mid-request", afterBytes: 9 },
  { mode: "cut-mid-response", afterBytes: 30 },
  { mode: "outage" },
];

const schema = `soak_${randomBytes(4).toString("hex")}`;
const admin = createPostgresDatabase({ connectionString: TARGET_URL.href, poolSize: 2 });
const proxy = await FaultProxy.start({
  target: { host: TARGET_URL.hostname.replace(/^\[|\]$/g, ""), port: Number(TARGET_URL.port || 5432) },
});
const db: PostgresDatabase = createPostgresDatabase({
  host: proxy.host,
  port: proxy.port,
  user: decodeURIComponent(TARGET_URL.username) || "postgres",
  database: TARGET_URL.pathname.slice(1) || "test",
  schema,
  applicationName: schema,
  poolSize: POOL_SIZE,
  ...DEADLINES,
});

/** Every write attempted: its id and what the adapter said about it. */
const ledger = new Map<number, SoakOutcome>();
const calls = new SoakCalls();
let nextId = 1;
let running = true;

const insert = (executor: Pick<SqlDatabase, "execute">, id: number, caller: number) =>
  executor.execute(
    sql`INSERT INTO writes (id, caller, payload) VALUES (${id}, ${caller}, ${randomBytes(24).toString("hex")})`,
  );

async function caller(index: number): Promise<void> {
  while (running) {
    const dice = Math.random();
    if (dice < 0.35) {
      await calls.run(STATEMENT_BOUND, () =>
        db.query(sql`SELECT id FROM writes WHERE caller = ${index} ORDER BY id DESC LIMIT 5`),
      );
    } else if (dice < 0.45) {
      // A stream: each fetch has its own deadline; 50 rows in batches of 10 is at most 6 fetches.
      await calls.run(6 * STATEMENT_BOUND, async () => {
        let seen = 0;
        for await (const _row of db.stream(sql`SELECT id FROM writes ORDER BY id LIMIT 50`, {
          batchSize: 10,
        })) {
          seen += 1;
        }
        return seen;
      });
    } else if (dice < 0.8) {
      const id = nextId++;
      const { outcome } = await calls.run(STATEMENT_BOUND, () => insert(db, id, index));
      ledger.set(id, outcome);
    } else {
      const ids = [nextId++, nextId++];
      // BEGIN, two INSERTs and COMMIT, each with its own deadline.
      const { outcome } = await calls.run(4 * STATEMENT_BOUND, () =>
        db.transaction(async (tx) => {
          for (const id of ids) await insert(tx, id, index);
        }),
      );
      for (const id of ids) ledger.set(id, outcome);
    }
  }
}

function memory(): { rssMb: number; heapMb: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rssMb: Math.round(usage.rss / 2 ** 20), heapMb: Math.round(usage.heapUsed / 2 ** 20) };
}

await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
try {
  // No unique key on purpose: a replayed INSERT must show up as a second row, not as a conflict.
  await db.execute(
    sql`CREATE TABLE writes (id BIGINT NOT NULL, caller INTEGER NOT NULL, payload TEXT NOT NULL)`,
  );
  await Promise.all(Array.from({ length: POOL_SIZE }, () => db.query(sql`SELECT 1`)));
  const memoryBefore = memory();
  const started = Date.now();
  const until = started + SECONDS * 1_000;
  console.log(
    `soak: ${SECONDS} s, ${CALLERS} callers, pool ${POOL_SIZE}, deadlines ${JSON.stringify(DEADLINES)}, ` +
      `faults ${FAULTS.map((fault) => fault.mode).join(", ")} (${PHASE_MS} ms each, healthy ${PHASE_MS} ms between)`,
  );
  const callers = Array.from({ length: CALLERS }, (_, index) => caller(index));
  const cycles = await cycleFaults(proxy, FAULTS, PHASE_MS, until);
  running = false;
  // Every call is bounded: the callers must all finish within one transaction's bound.
  const drained = await Promise.race([
    Promise.all(callers).then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 4 * STATEMENT_BOUND)),
  ]);

  // Healed, the adapter serves on every pool slot again by itself.
  const served = await Promise.all(
    Array.from({ length: POOL_SIZE * 2 }, () => calls.run(STATEMENT_BOUND, () => db.query(sql`SELECT 1`))),
  );
  const servedAfter = served.filter((call) => call.outcome === "ok").length;

  const rows = await admin.query<{ id: string; copies: number }>(
    sql`SELECT id::text AS id, COUNT(*)::int AS copies FROM ${sql.id(schema, "writes")} GROUP BY id`,
  );
  const onServer = new Map(rows.map((row) => [Number(row.id), row.copies]));
  const check = { duplicates: 0, lost: 0, phantom: 0, unknownCommitted: 0, unknownAbsent: 0, foreignRows: 0 };
  for (const [id, outcome] of ledger) {
    const copies = onServer.get(id) ?? 0;
    if (copies > 1) check.duplicates += 1;
    if (outcome === "ok" && copies === 0) check.lost += 1;
    if (outcome === "failed" && copies > 0) check.phantom += 1;
    if (outcome === "unknown") {
      if (copies > 0) check.unknownCommitted += 1;
      else check.unknownAbsent += 1;
    }
  }
  for (const id of onServer.keys()) if (!ledger.has(id)) check.foreignRows += 1;
  const openTransactions = await admin.queryOne<{ n: number }>(
    sql`SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = ${schema} AND xact_start IS NOT NULL`,
  );
  const pool = db.pool as unknown as { totalCount: number; idleCount: number; waitingCount: number };
  const memoryAfter = memory();
  const ok = (value: number) => (value === 0 ? "ok" : "FAIL");
  console.log(`ran ${Math.round((Date.now() - started) / 1_000)} s, ${cycles} full fault cycles`);
  console.log(calls.summary(), ok(calls.late));
  console.log(
    `calls still pending at the end: ${drained ? 0 : calls.pending} ${ok(drained ? 0 : calls.pending)}`,
  );
  console.log(
    `writes attempted ${ledger.size}: duplicated ${check.duplicates} ${ok(check.duplicates)}, ` +
      `lost ${check.lost} ${ok(check.lost)}, present after a known failure ${check.phantom} ${ok(check.phantom)}; ` +
      `outcome unknown: ${check.unknownCommitted} committed, ${check.unknownAbsent} not; rows nobody wrote ${check.foreignRows}`,
  );
  console.log(
    `after healing: ${servedAfter} of ${served.length} calls at once served ${ok(served.length - servedAfter)}`,
  );
  console.log(
    `pool at the end: ${pool.totalCount} connections (${pool.idleCount} idle, ${pool.waitingCount} waiting), ` +
      `proxy sockets open ${proxy.openConnections}, sessions in a transaction ${openTransactions?.n ?? "?"}`,
  );
  console.log(
    `memory: rss ${memoryBefore.rssMb} -> ${memoryAfter.rssMb} MB, heap ${memoryBefore.heapMb} -> ${memoryAfter.heapMb} MB`,
  );
  if (
    calls.late > 0 ||
    !drained ||
    servedAfter < served.length ||
    check.duplicates > 0 ||
    check.lost > 0 ||
    check.phantom > 0
  ) {
    process.exitCode = 1;
  }
} finally {
  await db.close();
  await proxy.close();
  await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
  await admin.close();
}
