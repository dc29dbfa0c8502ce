/**
 * Soak: 32 callers run mixed reads and writes through a FaultProxy on loopback while faults cycle
 * (latency, silence, lost replies, cuts, outages). At the end it checks on the server, over a
 * connection of its own, that no write ran twice and none reported as done is missing, and prints
 * calls still pending past their deadline, the pool and memory.
 *
 *   pnpm --filter @proj/adapter-mysql soak                 # 10 minutes
 *   SOAK_SECONDS=120 pnpm --filter @proj/adapter-mysql soak
 *
 * MYSQL_URL (default mysql://root@127.0.0.1:3306) names the server; it must be on loopback.
 */
import { randomUUID } from "node:crypto";
import { type FaultMode, FaultProxy } from "@proj/contract-tests";
import { isInfrastructureError, isOutcomeUnknown, sql } from "@proj/ports";
import { createConnection } from "mysql2/promise";
import { createMysqlDatabase } from "../src/index.js";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CALLERS = Number(process.env.SOAK_CALLERS ?? 32);
const SERVER = new URL(process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306");
const POOL_SIZE = 10;
const TIMEOUT_MS = 2_000;
const ACQUIRE_MS = 3_000;
const CONNECT_MS = 2_000;
/** The longest a call may take by the documented deadlines: acquire (with a connect), the call, the kill's grace. */
const BOUND_MS = ACQUIRE_MS + TIMEOUT_MS + 2_000 + 1_000;

if (!["127.0.0.1", "localhost", "[::1]"].includes(SERVER.hostname)) {
  throw new Error("the soak runs on loopback only");
}

type Outcome = "ok" | "failed" | "unknown";
interface Write {
  opId: string;
  rows: number;
  outcome: Outcome;
}

const FAULTS: Array<{ name: string; apply(proxy: FaultProxy): Promise<void> | void }> = [
  { name: "latency 50 ms", apply: (proxy) => proxy.setLatency(50) },
  { name: "silent", apply: (proxy) => proxy.set("silent") },
  { name: "lose-replies", apply: (proxy) => proxy.set("lose-replies") },
  { name: "cut-on-reply-close", apply: (proxy) => proxy.set("cut-on-reply-close") },
  { name: "cut-on-reply-reset", apply: (proxy) => proxy.set("cut-on-reply-reset") },
  {
    name: "cut-mid-request",
    apply: (proxy) => proxy.set("cut-mid-request" as FaultMode, { afterBytes: 12 }),
  },
  { name: "cut-mid-response", apply: (proxy) => proxy.set("cut-mid-response", { afterBytes: 40 }) },
  { name: "outage", apply: (proxy) => proxy.set("outage") },
];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  const database = `soak_${Date.now().toString(36)}_${randomUUID().slice(0, 8)}`;
  const admin = await createConnection({ uri: SERVER.toString() });
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(
    `CREATE TABLE \`${database}\`.writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, op_id CHAR(36) NOT NULL, caller INT NOT NULL, KEY (op_id), KEY (caller))`,
  );
  const proxy = await FaultProxy.start({
    target: { host: SERVER.hostname, port: Number(SERVER.port || 3306) },
  });
  const db = createMysqlDatabase({
    uri: `mysql://${SERVER.username || "root"}@${proxy.host}:${proxy.port}`,
    ...(SERVER.password ? { connection: { password: decodeURIComponent(SERVER.password) } } : {}),
    database,
    poolSize: POOL_SIZE,
    timeoutMs: TIMEOUT_MS,
    acquireTimeoutMs: ACQUIRE_MS,
    connectTimeoutMs: CONNECT_MS,
  });

  const writes: Write[] = [];
  const pending = new Map<number, number>();
  const pastDeadline = new Set<number>();
  const tally = { calls: 0, ok: 0, unknown: 0, codes: new Map<string, number>(), foreign: 0 };
  let nextCall = 0;
  let stopping = false;

  async function call<T>(work: () => Promise<T>): Promise<{ value?: T; outcome: Outcome }> {
    const id = nextCall++;
    pending.set(id, Date.now());
    tally.calls += 1;
    try {
      const value = await work();
      tally.ok += 1;
      return { value, outcome: "ok" };
    } catch (error) {
      if (!isInfrastructureError(error)) {
        tally.foreign += 1;
        console.error("error outside the taxonomy:", error);
        return { outcome: "unknown" };
      }
      tally.codes.set(error.code, (tally.codes.get(error.code) ?? 0) + 1);
      if (isOutcomeUnknown(error)) {
        tally.unknown += 1;
        return { outcome: "unknown" };
      }
      return { outcome: "failed" };
    } finally {
      pending.delete(id);
    }
  }

  async function caller(index: number): Promise<void> {
    while (!stopping) {
      const pick = Math.random();
      if (pick < 0.5) {
        await call(() => db.query(sql`SELECT COUNT(*) AS n FROM writes WHERE caller = ${index}`));
      } else if (pick < 0.8) {
        const opId = randomUUID();
        const { outcome } = await call(() =>
          db.execute(sql`INSERT INTO writes (op_id, caller) VALUES (${opId}, ${index})`),
        );
        writes.push({ opId, rows: 1, outcome });
      } else {
        const opId = randomUUID();
        const { outcome } = await call(() =>
          db.transaction(async (tx) => {
            await tx.execute(sql`INSERT INTO writes (op_id, caller) VALUES (${opId}, ${index})`);
            await tx.execute(sql`INSERT INTO writes (op_id, caller) VALUES (${opId}, ${index})`);
          }),
        );
        writes.push({ opId, rows: 2, outcome });
      }
    }
  }

  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const [id, started] of pending) if (now - started > BOUND_MS) pastDeadline.add(id);
  }, 250);

  const started = Date.now();
  const until = started + SECONDS * 1_000;
  const callers = Array.from({ length: CALLERS }, (_, index) => caller(index));
  await sleep(Math.min(5_000, SECONDS * 100));
  global.gc?.();
  const heapAfterWarmup = process.memoryUsage().heapUsed;
  const rssAfterWarmup = process.memoryUsage().rss;
  /** Heap after a collection, once a minute: flat means nothing accumulates but the ledger. */
  const heapByMinute: string[] = [];
  let lastMinute = 0;
  let cycle = 0;
  while (Date.now() < until - 6_000) {
    const fault = FAULTS[cycle % FAULTS.length] as (typeof FAULTS)[number];
    cycle += 1;
    await fault.apply(proxy);
    await sleep(2_000 + Math.random() * 2_000);
    await proxy.heal();
    await sleep(2_000 + Math.random() * 2_000);
    const minute = Math.floor((Date.now() - started) / 60_000);
    if (minute > lastMinute) {
      lastMinute = minute;
      global.gc?.();
      heapByMinute.push(mb(process.memoryUsage().heapUsed));
    }
    process.stdout.write(
      `\r${Math.round((Date.now() - started) / 1_000)} s, ${tally.calls} calls, fault cycle ${cycle} (${fault.name}), minute ${minute}   `,
    );
  }
  await proxy.heal();
  stopping = true;
  await Promise.all(callers);
  clearInterval(watchdog);
  const elapsed = (Date.now() - started) / 1_000;

  // Reconcile every write with what the server holds.
  const [rows] = await admin.query(
    `SELECT op_id AS opId, COUNT(*) AS n FROM \`${database}\`.writes GROUP BY op_id`,
  );
  const onServer = new Map(
    (rows as Array<{ opId: string; n: number }>).map((row) => [row.opId, Number(row.n)]),
  );
  let duplicates = 0;
  let partial = 0;
  let lost = 0;
  let phantom = 0;
  let unknownApplied = 0;
  for (const write of writes) {
    const n = onServer.get(write.opId) ?? 0;
    if (n > write.rows) duplicates += 1;
    else if (n !== 0 && n !== write.rows) partial += 1;
    if (write.outcome === "ok" && n === 0) lost += 1;
    if (write.outcome === "failed" && n > 0) phantom += 1;
    if (write.outcome === "unknown" && n > 0) unknownApplied += 1;
  }
  const known = new Set(writes.map((write) => write.opId));
  const strays = [...onServer.keys()].filter((opId) => !known.has(opId)).length;

  const [threads] = await admin.query(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?",
    [database],
  );
  const serverSessions = Number((threads as Array<{ n: number }>)[0]?.n);
  const openBeforeClose = proxy.openConnections;
  await db.close();
  // The proxy runs in this process: give it a moment to see the closes the adapter already made.
  await sleep(200);
  const openAfterClose = proxy.openConnections;
  global.gc?.();
  const memory = process.memoryUsage();

  console.log("\n");
  console.log(
    `duration              ${elapsed.toFixed(0)} s, ${CALLERS} callers, pool ${POOL_SIZE}, ${cycle} fault cycles`,
  );
  console.log(
    `calls                 ${tally.calls} (${(tally.calls / elapsed).toFixed(0)}/s), ok ${tally.ok}, outcome unknown ${tally.unknown}`,
  );
  console.log(
    `failures by code      ${JSON.stringify(Object.fromEntries(tally.codes))}, outside the taxonomy ${tally.foreign}`,
  );
  console.log(`pending past ${BOUND_MS} ms   ${pastDeadline.size}`);
  console.log(
    `writes                ${writes.length}: duplicate ${duplicates}, half-applied transactions ${partial}, lost ${lost}, failed-but-applied ${phantom}, unknown-and-applied ${unknownApplied}, strays ${strays}`,
  );
  console.log(
    `pool at the end       ${openBeforeClose} proxied connections open, ${serverSessions} server sessions; after close ${openAfterClose}`,
  );
  console.log(
    `heap each minute       ${heapByMinute.join(", ") || "—"} (after gc; the ledger of writes grows with the run)`,
  );
  console.log(
    `memory                heap ${mb(heapAfterWarmup)} after warm-up → ${mb(memory.heapUsed)} at the end${global.gc ? " (after gc)" : ""}; rss ${mb(rssAfterWarmup)} → ${mb(memory.rss)}`,
  );

  await proxy.close();
  await admin.query(`DROP DATABASE \`${database}\``);
  await admin.end();
  const clean =
    pastDeadline.size === 0 &&
    duplicates === 0 &&
    partial === 0 &&
    lost === 0 &&
    phantom === 0 &&
    tally.foreign === 0;
  process.exitCode = clean ? 0 : 1;
}

await main();
