// Scale-out bench: 2 API processes (`node dist/main.js`, no worker of their own) and N worker
// processes (`node dist/worker.js`), for N = 1, 2, 4, on PostgreSQL (database, and the queue unless
// BENCH_QUEUE_URL names another), Redis (the tiered tenant cache) and a local folder both process kinds
// share (STORAGE_URL to use another storage). Each run requests BENCH_REPORTS CSV reports of
// BENCH_ORDERS orders at once across both API processes and waits until all are done; it reports
// reports/s (reports over the span from the first request to the last report done) and
// queue-to-done p50/p99 (requested → done, both from the database's clock, so queueing included),
// with the CPU the machine, the workers and the API processes used meanwhile; before each burst,
// 10 reports one at a time give the latency of a lone report. Runs of the three N
// are interleaved in BENCH_ROUNDS rounds (the order rotates); medians, spread and load average are
// printed, and bench/scale.svg plots reports/s against N.
//
//   pnpm --filter tenant-reports build && node bench/scale.mjs   (also the last part of `pnpm bench`)
//
// Knobs: BENCH_WORKERS (1,2,4), BENCH_REPORTS (200), BENCH_ORDERS (2000), BENCH_ROUNDS (3),
// BENCH_CONCURRENCY (reports at once per worker, 2), POSTGRES_URL, REDIS_URL, BENCH_QUEUE_URL,
// STORAGE_URL (+ its credentials), BENCH_SVG (output path).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { sql } from "@proj/ports";

const appDir = new URL("..", import.meta.url).pathname;
const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const WORKERS = (process.env.BENCH_WORKERS ?? "1,2,4").split(",").map((n) => positive("BENCH_WORKERS", n));
const REPORTS = positive("BENCH_REPORTS", process.env.BENCH_REPORTS ?? 200);
const ORDERS = positive("BENCH_ORDERS", process.env.BENCH_ORDERS ?? 2_000);
const ROUNDS = positive("BENCH_ROUNDS", process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = positive("BENCH_CONCURRENCY", process.env.BENCH_CONCURRENCY ?? 2);
const SVG = process.env.BENCH_SVG ?? join(appDir, "bench", "scale.svg");
const TENANTS = 4;
const IN_FLIGHT = 32;
/** Reports made one at a time before each run's burst, for the latency of a lone report. */
const ALONE = 10;

function positive(name, value) {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`${name} must hold positive integers`);
  return number;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks() {
  const [cpu] = readFileSync("/proc/stat", "utf8").split("\n");
  const fields = cpu.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU jiffies (user + system) a process has used, 0 once it is gone. */
function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Starts `node dist/<script>.js`; resolves with the process and the first match of `ready`. */
function launch(script, env, ready) {
  const child = spawn(process.execPath, [`dist/${script}.js`], {
    cwd: appDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const collect = (chunk) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match !== null) resolve({ child, match, exited, output: () => output });
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    exited.then((code) => reject(new Error(`${script} exited (${code}) before it was ready:\n${output}`)));
  });
}

async function stop(processes) {
  for (const { child } of processes) child.kill("SIGTERM");
  const codes = await Promise.all(processes.map(({ exited }) => exited));
  if (codes.some((code) => code !== 0)) throw new Error(`a process stopped with ${codes.join(", ")}`);
}

const stamp = Date.now().toString(36);
const database = `tr_scale_bench_${stamp}`;
const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
await admin.execute(sql`CREATE DATABASE ${sql.id(database)}`);
const databaseUrl = new URL(POSTGRES_URL);
databaseUrl.pathname = `/${database}`;
const db = createPostgresDatabase({ connectionString: databaseUrl.toString(), poolSize: 2 });
const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-scale-"));
const secret = "a-development-secret-of-32-bytes!";
await writeFile(join(dataDir, "dev-jwt-secret"), `${secret}\n`, { mode: 0o600 });
const issuer = createMemoryTokenAuthority({ secret }).issuer;
const env = {
  DATA_DIR: dataDir,
  HOST: "127.0.0.1",
  PORT: "0",
  DATABASE_URL: databaseUrl.toString(),
  STORAGE_URL: process.env.STORAGE_URL ?? `file://${join(dataDir, "storage")}`,
  CACHE_URL: `tiered+${REDIS_URL}`,
  CACHE_NAMESPACE: `tenant-reports-scale-${stamp}`,
  QUEUE_URL: process.env.BENCH_QUEUE_URL ?? databaseUrl.toString(),
  QUEUE_NAMESPACE:
    process.env.QUEUE_NAMESPACE ?? (process.env.BENCH_QUEUE_URL ? `trbench-${stamp}` : "tenant_reports_jobs"),
  API_WORKER: "false",
  WORKER_CONCURRENCY: String(CONCURRENCY),
  LOG_REQUESTS: "false",
};
delete env.JWT_SECRET;

const apis = [];
const runs = [];
let failed = false;
try {
  apis.push(await launch("main", env, /listening on (http:\/\/\S+)/));
  apis.push(await launch("main", env, /listening on (http:\/\/\S+)/));
  const bases = apis.map(({ match }) => match[1]);
  console.log(`tenant-reports scale-out bench: ${apis[0].output().match(/\(([^)]*)\)/)?.[1]}`);
  console.log(
    `${new Date().toISOString()} node ${process.version}, ${availableParallelism()} cores, load average ${load()}; ` +
      `2 API processes, workers ${WORKERS.join("/")} × concurrency ${CONCURRENCY}, ${REPORTS} CSV reports of ${ORDERS} orders per run, ${ROUNDS} rounds`,
  );

  const call = async (base, token, method, path, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
    return response.json();
  };
  const adminToken = await issuer.issue({ subject: "bench-admin", roles: ["admin"] });
  const tokens = [];
  for (let i = 0; i < TENANTS; i++) {
    const tenant = await call(bases[0], adminToken, "POST", "/tenants", {
      slug: `scale-${stamp}-${i}`,
      name: `T${i}`,
      plan: "pro",
    });
    const token = await issuer.issue({ subject: `user-${i}`, tenantId: tenant.id, expiresInSeconds: 7_200 });
    await call(bases[i % 2], token, "POST", "/orders/sample", { count: ORDERS });
    tokens.push(token);
  }

  /** One run: N workers, REPORTS reports requested at once across both APIs, until all are done. */
  async function run(workers, round) {
    const started = await Promise.all(
      Array.from({ length: workers }, () => launch("worker", env, /taking report jobs/)),
    );
    const pids = { workers: started.map(({ child }) => child.pid), apis: apis.map(({ child }) => child.pid) };
    // A lone report at a time first: the pipeline's own latency (enqueue, a worker noticing the
    // job, claiming, making, marking done), without waiting behind other reports.
    const alone = [];
    for (let i = 0; i < ALONE; i++) {
      const { id } = await call(bases[i % 2], tokens[i % TENANTS], "POST", "/reports", { format: "csv" });
      for (;;) {
        const row = await db.queryOne(
          sql`SELECT status, requested_at, finished_at FROM reports WHERE id = ${id}`,
        );
        if (row?.status === "done") {
          alone.push(row.finished_at - row.requested_at);
          break;
        }
        if (row?.status === "failed") throw new Error(`report ${id} failed`);
        await delay(10);
      }
    }
    alone.sort((a, b) => a - b);
    const before = {
      machine: machineTicks(),
      workers: pids.workers.map(processTicks),
      apis: pids.apis.map(processTicks),
    };
    const ids = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < REPORTS) {
          const index = next++;
          const report = await call(bases[index % 2], tokens[index % TENANTS], "POST", "/reports", {
            format: "csv",
          });
          ids.push(report.id);
        }
      }),
    );
    for (;;) {
      const rows = await db.query(
        sql`SELECT status, COUNT(*) AS count FROM reports WHERE id IN ${sql.in(ids)} GROUP BY status`,
      );
      const counts = Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
      if ((counts.failed ?? 0) > 0) throw new Error(`${counts.failed} report(s) failed`);
      if ((counts.done ?? 0) === REPORTS) break;
      await delay(50);
    }
    const after = {
      machine: machineTicks(),
      workers: pids.workers.map(processTicks),
      apis: pids.apis.map(processTicks),
    };
    const rows = await db.query(
      sql`SELECT requested_at, started_at, finished_at, row_count FROM reports WHERE id IN ${sql.in(ids)}`,
    );
    if (rows.some((row) => Number(row.row_count) !== ORDERS))
      throw new Error("a report has the wrong row count");
    const first = Math.min(...rows.map((row) => row.requested_at.getTime()));
    const last = Math.max(...rows.map((row) => row.finished_at.getTime()));
    const toDone = rows.map((row) => row.finished_at - row.requested_at).sort((a, b) => a - b);
    const making = rows.map((row) => row.finished_at - row.started_at).sort((a, b) => a - b);
    const spanS = (last - first) / 1000;
    const jiffies = (a, b) => b.reduce((sum, value, i) => sum + Math.max(0, value - a[i]), 0);
    const machineBusy =
      (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total);
    // /proc jiffies are 1/100 s: CPU seconds used per second of the run, by kind of process.
    const seconds = (after.machine.total - before.machine.total) / 100 / availableParallelism();
    const cpuMs =
      ((jiffies(before.workers, after.workers) + jiffies(before.apis, after.apis)) * 10) / REPORTS;
    const result = {
      workers,
      round,
      alone50: quantile(alone, 0.5),
      cpuMs,
      rate: REPORTS / spanS,
      p50: quantile(toDone, 0.5),
      p99: quantile(toDone, 0.99),
      making50: quantile(making, 0.5),
      machineBusy,
      workerCores: jiffies(before.workers, after.workers) / 100 / seconds,
      apiCores: jiffies(before.apis, after.apis) / 100 / seconds,
      load: loadavg()[0],
    };
    console.log(
      `round ${round}, ${workers} worker(s): ${REPORTS} reports in ${spanS.toFixed(2)} s = ${result.rate.toFixed(1)} reports/s; ` +
        `queue-to-done p50 ${result.p50} ms, p99 ${result.p99} ms; making one p50 ${result.making50} ms; ` +
        `machine busy ${(machineBusy * 100).toFixed(0)} %, workers ${result.workerCores.toFixed(2)} cores, APIs ${result.apiCores.toFixed(2)} cores, ` +
        `${cpuMs.toFixed(0)} ms of worker + API CPU per report; a lone report p50 ${result.alone50} ms; load ${load()}`,
    );
    await stop(started);
    return result;
  }

  // Warm-up (not measured): the API processes' JIT and pools, the database's caches.
  await run(1, 0);
  for (let round = 1; round <= ROUNDS; round++) {
    const order = WORKERS.map((_, i) => WORKERS[(i + round - 1) % WORKERS.length]);
    for (const workers of order) runs.push(await run(workers, round));
  }

  console.log(
    "\nworkers | reports/s median (min–max) | × 1 worker | queue-to-done p50 / p99 | lone report p50 | CPU per report (workers + APIs) | worker cores | machine busy",
  );
  const summary = WORKERS.map((workers) => {
    const mine = runs.filter((r) => r.workers === workers);
    const rates = mine.map((r) => r.rate);
    return {
      workers,
      rate: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      p50: median(mine.map((r) => r.p50)),
      p99: median(mine.map((r) => r.p99)),
      busy: median(mine.map((r) => r.machineBusy)),
      cpuMs: median(mine.map((r) => r.cpuMs)),
      alone50: median(mine.map((r) => r.alone50)),
      workerCores: median(mine.map((r) => r.workerCores)),
      apiCores: median(mine.map((r) => r.apiCores)),
    };
  });
  const base = summary[0].rate;
  for (const s of summary) {
    console.log(
      `${String(s.workers).padStart(7)} | ${s.rate.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) | ${(s.rate / base).toFixed(2)} | ${Math.round(s.p50)} / ${Math.round(s.p99)} ms | ${Math.round(s.alone50)} ms | ${s.cpuMs.toFixed(0)} ms | ${s.workerCores.toFixed(2)} | ${(s.busy * 100).toFixed(0)} %`,
    );
  }
  console.log(
    `ratio ${summary.map((s) => `${s.workers} workers/1 = ${(s.rate / base).toFixed(2)}`).join(", ")}; load average at the end ${load()}`,
  );
  await writeFile(SVG, plot(summary));
  console.log(`plot: ${SVG}`);
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  await stop(apis).catch((error) => {
    console.error(error);
    failed = true;
  });
  await db.close();
  await admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)} WITH (FORCE)`);
  await admin.close();
  await rm(dataDir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;

/** A small SVG line chart of reports/s (median, min–max bars) against workers. */
function plot(summary) {
  const width = 520;
  const height = 320;
  const left = 56;
  const right = 40;
  const top = 36;
  const bottom = 52;
  const maxWorkers = Math.max(...summary.map((s) => s.workers));
  const first = summary[0];
  // Linear scaling from the first point, for reference: N workers making N times the reports.
  const ideal = (workers) => (first.rate * workers) / first.workers;
  const highest = Math.max(...summary.map((s) => s.max));
  const rawStep = (highest * 1.1) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rawStep);
  const maxRate = Math.ceil((highest * 1.1) / step) * step;
  const x = (workers) => left + (workers / maxWorkers) * (width - left - right);
  const y = (rate) => top + (1 - Math.min(rate, maxRate) / maxRate) * (height - top - bottom);
  const parts = [];
  for (let rate = 0; rate <= maxRate + step / 2; rate += step) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(rate).toFixed(1)}" y2="${y(rate).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(y(rate) + 4).toFixed(1)}" text-anchor="end">${Number(rate.toPrecision(6))}</text>`,
    );
  }
  const idealEnd = Math.min(maxWorkers, (maxRate * first.workers) / first.rate);
  parts.push(
    `<line x1="${x(first.workers).toFixed(1)}" y1="${y(first.rate).toFixed(1)}" x2="${x(idealEnd).toFixed(1)}" y2="${y(ideal(idealEnd)).toFixed(1)}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<text x="${(x(idealEnd) - 4).toFixed(1)}" y="${(y(ideal(idealEnd)) - 6).toFixed(1)}" text-anchor="end" fill="#777">linear scaling from ${first.workers}</text>`,
  );
  for (const s of summary) {
    parts.push(
      `<line x1="${x(s.workers).toFixed(1)}" x2="${x(s.workers).toFixed(1)}" y1="${y(s.min).toFixed(1)}" y2="${y(s.max).toFixed(1)}" stroke="#1f77b4" stroke-width="2"/>`,
      `<circle cx="${x(s.workers).toFixed(1)}" cy="${y(s.rate).toFixed(1)}" r="4" fill="#1f77b4"/>`,
      `<text x="${x(s.workers).toFixed(1)}" y="${height - bottom + 18}" text-anchor="middle">${s.workers}</text>`,
      `<text x="${(x(s.workers) + 8).toFixed(1)}" y="${(y(s.rate) + 16).toFixed(1)}">${s.rate.toFixed(1)}</text>`,
    );
  }
  const path = summary
    .map((s, i) => `${i === 0 ? "M" : "L"}${x(s.workers).toFixed(1)},${y(s.rate).toFixed(1)}`)
    .join(" ");
  const middle = (top + height - bottom) / 2;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<title>tenant-reports: reports per second against worker processes</title>
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">tenant-reports: reports/s against worker processes (2 API processes, ${availableParallelism()} cores)</text>
${parts.join("\n")}
<path d="${path}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#333"/>
<line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="#333"/>
<text x="${(left + width - right) / 2}" y="${height - 14}" text-anchor="middle">worker processes (concurrency ${CONCURRENCY} each): median of ${ROUNDS} runs, bar min–max</text>
<text x="14" y="${middle}" text-anchor="middle" transform="rotate(-90 14 ${middle})">reports/s (${REPORTS} CSV reports of ${ORDERS} rows)</text>
</svg>
`;
}
