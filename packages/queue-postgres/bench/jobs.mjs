// queue-postgres against pg-boss used directly, on the same PostgreSQL, in one process, rounds
// interleaved: node bench/jobs.mjs (after `pnpm build`; `pnpm --filter @proj/adapter-postgres build` too).
// Enqueue jobs/s (no worker on the queue) and end-to-end jobs/s (N producers each enqueue a job and
// wait until a handler has run it; the worker runs N handlers at once) at concurrency 1 and 32, with
// p50/p99 of the end-to-end latency (enqueue call → handler called).
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { sql } from "@proj/ports";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { createPostgresJobQueue, dropJobTables } from "../dist/index.js";

const DATABASE_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const POOL = 10;
const SCENARIOS = [
  { kind: "enqueue", concurrency: 1, jobs: 400 },
  { kind: "enqueue", concurrency: 32, jobs: 3_000 },
  { kind: "end-to-end", concurrency: 1, jobs: 300 },
  { kind: "end-to-end", concurrency: 32, jobs: 3_000 },
  // An idle queue: each job is enqueued 100 ms after the last one was handled, so a worker that is
  // not woken waits for its poll. Latency only (the pauses make the rate meaningless).
  { kind: "idle wake-up", concurrency: 1, jobs: 25, pauseMs: 100 },
];
const tag = randomBytes(3).toString("hex");
const payload = (seq) => ({ seq, tenant: "acme", report: "monthly-usage", format: "xlsx" });

/** The adapter, on adapter-postgres (its default pool of 10). */
async function adapterContender() {
  const db = createPostgresDatabase({ connectionString: DATABASE_URL, poolSize: POOL });
  const schema = `bench_qp_${tag}`;
  const queue = createPostgresJobQueue(db, { schema });
  await queue.migrate();
  return {
    name: "queue-postgres",
    enqueue: (name, data) => queue.enqueue(name, data),
    work(name, concurrency, onJob) {
      const worker = queue.work(name, async (job) => onJob(job.payload), { concurrency });
      return () => worker.close();
    },
    async clear(name) {
      await db.execute(sql`DELETE FROM ${sql.id(schema, "jobs")} WHERE queue = ${name}`);
    },
    async close() {
      await queue.close();
      await dropJobTables(db, schema);
      await db.close();
    },
  };
}

/**
 * The adapter with its worker as in another process: a module instance of its own (no in-process
 * wake-up reaches it) on a SqlDatabase of its own (its own pool). With `listen`, that database
 * offers `listen()` and the producer's NOTIFY wakes the worker; without (built on a pg.Pool of the
 * caller's, which has no listen()), the worker finds jobs by polling (every 200 ms, faster while
 * jobs keep coming). End-to-end only.
 */
async function otherProcessContender({ listen }) {
  const other = await import(new URL(`../dist/index.js?as-another-process-${listen}`, import.meta.url).href);
  const db = createPostgresDatabase({ connectionString: DATABASE_URL, poolSize: POOL });
  const ownPool = listen ? undefined : new pg.Pool({ connectionString: DATABASE_URL, max: POOL });
  const workerDb = listen
    ? createPostgresDatabase({ connectionString: DATABASE_URL, poolSize: POOL })
    : createPostgresDatabase({ pool: ownPool });
  const schema = `bench_qp${listen ? "n" : "p"}_${tag}`;
  const producer = createPostgresJobQueue(db, { schema });
  const consumer = other.createPostgresJobQueue(workerDb, {
    schema,
    onBackgroundError: (error, context) => console.error(`worker ${context.operation}: ${error.message}`),
  });
  await producer.migrate();
  return {
    name: listen ? "queue-postgres, worker in another process" : "queue-postgres, another process, polled",
    only: ["end-to-end", "idle wake-up"],
    enqueue: (name, data) => producer.enqueue(name, data),
    work(name, concurrency, onJob) {
      const worker = consumer.work(name, async (job) => onJob(job.payload), { concurrency });
      return () => worker.close();
    },
    async clear(name) {
      await db.execute(sql`DELETE FROM ${sql.id(schema, "jobs")} WHERE queue = ${name}`);
    },
    async close() {
      await producer.close();
      await consumer.close();
      await dropJobTables(db, schema);
      await db.close();
      await workerDb.close();
      await ownPool?.end();
    },
  };
}

/**
 * pg-boss as its docs suggest for low latency: LISTEN/NOTIFY on, the shortest poll (0.5 s).
 * `PGBOSS_NOTIFY=0` measures it without NOTIFY (polling only).
 */
async function pgBossContender() {
  const schema = `bench_pgboss_${tag}`;
  const notify = process.env.PGBOSS_NOTIFY !== "0";
  const boss = new PgBoss({ connectionString: DATABASE_URL, schema, max: POOL, useListenNotify: notify });
  boss.on("error", (error) => console.error("pg-boss error:", error.message));
  await boss.start();
  const created = new Set();
  const ensure = async (name) => {
    if (created.has(name)) return;
    created.add(name);
    await boss.createQueue(name, { notify });
  };
  return {
    name: "pg-boss",
    async prepare(name) {
      await ensure(name);
    },
    enqueue: (name, data) => boss.send(name, data),
    work(name, concurrency, onJob) {
      const options =
        process.env.PGBOSS_BATCH === "1"
          ? { batchSize: concurrency, localConcurrency: 1, pollingIntervalSeconds: 0.5 }
          : { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: 0.5 };
      const started = boss.work(name, options, async (jobs) => {
        await Promise.all(jobs.map((job) => onJob(job.data)));
      });
      return async () => {
        await started;
        await boss.offWork(name, { wait: true });
      };
    },
    async clear(name) {
      await boss.deleteQueue(name);
      created.delete(name);
    },
    async close() {
      await boss.stop({ graceful: true, timeout: 5_000 });
      const admin = createPostgresDatabase({ connectionString: DATABASE_URL, poolSize: 1 });
      await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
      await admin.close();
    },
  };
}

async function runEnqueue(contender, { concurrency, jobs }, name) {
  await contender.prepare?.(name);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs) await contender.enqueue(name, payload(next++));
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await contender.clear(name);
  return { rate: jobs / seconds };
}

async function runEndToEnd(contender, { concurrency, jobs, pauseMs = 0 }, name) {
  await contender.prepare?.(name);
  const waiting = new Map();
  const stop = contender.work(name, concurrency, async (data) => {
    const entry = waiting.get(data.seq);
    if (entry) entry.resolve(performance.now() - entry.start);
  });
  // Warm up: one job through before the clock starts (the worker's first poll, statement caches).
  await new Promise((resolve) => {
    waiting.set(-1, { start: performance.now(), resolve });
    contender.enqueue(name, payload(-1));
  });
  const latencies = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs) {
        const seq = next++;
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        const done = new Promise((resolve) => waiting.set(seq, { start: performance.now(), resolve }));
        await contender.enqueue(name, payload(seq));
        latencies.push(await done);
        waiting.delete(seq);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await stop();
  await contender.clear(name);
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rate: jobs / seconds, p50: at(0.5), p99: at(0.99) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
const fmt = (ms) => (ms < 10 ? ms.toFixed(1) : String(Math.round(ms)));

const contenders = [
  await adapterContender(),
  await otherProcessContender({ listen: true }),
  await otherProcessContender({ listen: false }),
  await pgBossContender(),
];
const results = new Map();
const loadBefore = loadavg();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      // Alternate who goes first, so neither always runs on a warmer server.
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        if (contender.only && !contender.only.includes(scenario.kind)) continue;
        const name = `bench_${tag}_${scenario.kind}_${scenario.concurrency}_${round}`.replace(
          /[^A-Za-z0-9_]/g,
          "_",
        );
        const run = scenario.kind === "enqueue" ? runEnqueue : runEndToEnd;
        const result = await run(contender, scenario, name);
        const key = `${contender.name}|${scenario.kind}|${scenario.concurrency}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(result);
      }
    }
  }
} finally {
  for (const contender of contenders) await contender.close();
}
const loadAfter = loadavg();

console.log(
  `queue-postgres (worker woken in-process; in "another process": own module instance and pool, woken by NOTIFY, or polled when its database has no listen()) vs pg-boss 12 (LISTEN/NOTIFY ${process.env.PGBOSS_NOTIFY === "0" ? "off" : "on"}), PostgreSQL at ${DATABASE_URL.replace(/\/\/.*@/, "//")}, pool ${POOL} each, ` +
    `${ROUNDS} interleaved rounds, median (min–max); node ${process.version}`,
);
console.log(
  `load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadAfter.map((x) => x.toFixed(2)).join(" ")}`,
);
console.log("| scenario | contender | jobs/s | p50 ms | p99 ms |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const scenario of SCENARIOS) {
  for (const contender of contenders) {
    const runs = results.get(`${contender.name}|${scenario.kind}|${scenario.concurrency}`);
    if (!runs) continue;
    const rates = runs.map((r) => r.rate);
    const rate = scenario.pauseMs ? "" : `${Math.round(median(rates))} (${spread(rates)})`;
    const p50 = runs[0].p50 === undefined ? "" : fmt(median(runs.map((r) => r.p50)));
    const p99 = runs[0].p99 === undefined ? "" : fmt(median(runs.map((r) => r.p99)));
    console.log(
      `| ${scenario.kind} c=${scenario.concurrency} (${scenario.jobs} jobs) | ${contender.name} | ${rate} | ${p50} | ${p99} |`,
    );
  }
}
for (const scenario of SCENARIOS) {
  // Throughput where it means something; on the idle queue, p50 latency (pg-boss's over ours).
  const measure = scenario.pauseMs
    ? (runs) => 1 / median(runs.map((r) => r.p50))
    : (runs) => median(runs.map((r) => r.rate));
  const what = scenario.pauseMs ? "1/p50 latency" : "jobs/s";
  const theirs = measure(results.get(`pg-boss|${scenario.kind}|${scenario.concurrency}`));
  for (const contender of contenders.slice(0, -1)) {
    const runs = results.get(`${contender.name}|${scenario.kind}|${scenario.concurrency}`);
    if (!runs) continue;
    console.log(
      `ratio ${scenario.kind} c=${scenario.concurrency} ${what}, ${contender.name} / pg-boss: ${(measure(runs) / theirs).toFixed(2)}`,
    );
  }
}
