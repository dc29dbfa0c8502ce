// Load test: the service composed in-process from ../dist (the same composition root and config
// loader as `pnpm start`), on a fresh temporary DATA_DIR, loaded over 127.0.0.1 by autocannon.
// Adapters come from DATABASE_URL / STORAGE_URL / CACHE_URL when set, else the embedded defaults.
// Tokens are always development tokens minted here, so JWT settings in the environment are ignored.
//
//   pnpm --filter tenant-reports build && pnpm --filter tenant-reports bench
//
// Knobs: BENCH_SECONDS (10), BENCH_ORDERS (2000), BENCH_ROUNDS (2).
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import autocannon from "autocannon";
import { composeService } from "../dist/composition/compose.js";
import { ConfigurationError, loadConfig } from "../dist/composition/config.js";

const SECONDS = positiveInteger("BENCH_SECONDS", 10);
const ORDERS = positiveInteger("BENCH_ORDERS", 2_000);
const ROUNDS = positiveInteger("BENCH_ROUNDS", 2);
// Each phase stops at SECONDS or at this many requests, whichever comes first.
const READ = { connections: 20, maxOverallRequests: 200_000 };
const REPORT = { connections: 4, maxOverallRequests: 2_000 };

function positiveInteger(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

if (typeof globalThis.gc !== "function") {
  throw new Error("run with node --expose-gc (the bench script does): memory is measured after a GC");
}

const mb = (bytes) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const signedMb = (bytes) => `${bytes >= 0 ? "+" : ""}${mb(bytes)}`;
const memory = () => {
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
};
/** Memory once the garbage is gone: what a leak would make grow from one round to the next. */
async function settledMemory() {
  globalThis.gc();
  await delay(200);
  globalThis.gc();
  return memory();
}

const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-bench-"));
const { JWT_SECRET, JWT_JWKS_URL, LOG_REQUESTS, ...env } = process.env;
let service;
try {
  service = await composeService(
    loadConfig({
      ...env,
      DATA_DIR: dataDir,
      CACHE_NAMESPACE: env.CACHE_NAMESPACE ?? `tenant-reports-bench-${Date.now().toString(36)}`,
    }),
  );
} catch (error) {
  await rm(dataDir, { recursive: true, force: true });
  console.error(error instanceof ConfigurationError ? error.message : error);
  process.exit(1);
}

let failures = 0;
try {
  const base = await service.http.listen({ host: "127.0.0.1", port: 0 });
  console.log(`tenant-reports load test: ${service.description}`);
  console.log(
    `node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; ${SECONDS} s per phase, ${ORDERS} orders, ${ROUNDS} rounds`,
  );

  const call = async (token, method, path, body) => {
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
    return response;
  };
  const adminToken = await service.devIssuer.issue({ subject: "bench-admin", roles: ["admin"] });
  const tenant = await (
    await call(adminToken, "POST", "/tenants", {
      slug: `bench-${Date.now().toString(36)}`,
      name: "Bench Corp",
      plan: "pro",
    })
  ).json();
  const token = await service.devIssuer.issue({
    subject: "bench-user",
    tenantId: tenant.id,
    expiresInSeconds: 3_600,
  });
  await call(token, "POST", "/orders/sample", { count: ORDERS });

  /** Requests a report and polls its status until a worker has made it: the user's wait. */
  const reportDone = async (bearer) => {
    const { id } = await (await call(bearer, "POST", "/reports", { format: "csv" })).json();
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const status = await (await call(bearer, "GET", `/reports/${id}/status`)).json();
      if (status.status === "done") return status;
      if (status.status === "failed") throw new Error(`report ${id} failed: ${status.errorCode}`);
      await delay(pause);
    }
  };

  // One checked report before loading: the phase below measures real reports, not error answers.
  const report = await reportDone(token);
  const lines = (await (await call(token, "GET", `/reports/${report.id}`)).text()).trimEnd().split("\r\n");
  if (report.rowCount !== ORDERS || lines.length !== ORDERS + 1) {
    throw new Error(`report check: ${report.rowCount} rows reported, ${lines.length - 1} downloaded`);
  }
  console.log(
    `setup: tenant ${tenant.id}, ${ORDERS} orders, a ${report.byteSize}-byte CSV report checked by download`,
  );

  const phases = {
    health: { title: "GET /health (no token: baseline)", path: "/health", ...READ },
    read: { title: "GET /tenants/:id (tenant token, cached)", path: `/tenants/${tenant.id}`, ...READ },
    report: {
      title: "POST /reports csv, then its status polled until done (in-process worker, into storage)",
      closedLoop: () => reportDone(token),
      ...REPORT,
    },
  };

  /**
   * `connections` clients, each requesting a report and waiting for it to be done, again and again
   * for `duration` seconds (a report is a job now: autocannon would only time its enqueuing, and
   * leave a backlog for the next phase). The result has autocannon's shape for `print`.
   */
  async function closedLoop(task, connections, duration, maxOverallRequests) {
    const latencies = [];
    let errors = 0;
    const started = performance.now();
    const until = started + duration * 1000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < until && latencies.length + errors < maxOverallRequests) {
          const begun = performance.now();
          try {
            await task();
            latencies.push(performance.now() - begun);
          } catch {
            errors++;
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const at = (q) =>
      Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
    return {
      requests: { total: latencies.length },
      duration: (performance.now() - started) / 1000,
      latency: { p50: at(0.5), p99: at(0.99) },
      non2xx: 0,
      errors,
      timeouts: 0,
    };
  }

  // The client runs in this process too (autocannon's worker threads would add a thread's memory
  // churn to every phase's RSS): req/s is a lower bound, memory figures include the client.
  async function load(name, duration = SECONDS) {
    const {
      title,
      path,
      method = "GET",
      body,
      connections,
      maxOverallRequests,
      closedLoop: task,
    } = phases[name];
    const before = await settledMemory();
    const peak = { ...before };
    const sampler = setInterval(() => {
      const now = memory();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.heap = Math.max(peak.heap, now.heap);
    }, 250);
    let result;
    try {
      result = task
        ? await closedLoop(task, connections, duration, maxOverallRequests)
        : await autocannon({
            url: `${base}${path}`,
            method,
            headers: {
              ...(name === "health" ? {} : { authorization: `Bearer ${token}` }),
              ...(body === undefined ? {} : { "content-type": "application/json" }),
            },
            body,
            connections,
            duration,
            maxOverallRequests,
          });
    } finally {
      clearInterval(sampler);
    }
    const after = await settledMemory();
    failures += result.non2xx + result.errors + result.timeouts;
    return { name, title, connections, result, before, peak, after };
  }

  function print({ name, title, connections, result, before, peak, after }) {
    const rate = result.requests.total / result.duration;
    console.log(
      `${name.padEnd(6)} ${title}: ${connections} connections, ${result.requests.total} requests in ${result.duration.toFixed(1)} s = ${rate.toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
    );
    console.log(
      `       memory: before rss ${mb(before.rss)} heap ${mb(before.heap)}; peak during rss ${mb(peak.rss)} heap ${mb(peak.heap)}; after GC rss ${mb(after.rss)} (${signedMb(after.rss - before.rss)}) heap ${mb(after.heap)} (${signedMb(after.heap - before.heap)})`,
    );
    return rate;
  }

  // Warm-up (not measured): JIT, pools, the cache entry, the token cache.
  await load("read", 2);
  await load("report", 2);

  const start = await settledMemory();
  const settled = [];
  let healthRate = 0;
  let readRate = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}`);
    if (round === 1) healthRate = print(await load("health"));
    readRate = print(await load("read"));
    print(await load("report"));
    settled.push(await settledMemory());
  }
  const first = settled[0];
  const last = settled.at(-1);
  console.log(
    `memory after GC: start rss ${mb(start.rss)} heap ${mb(start.heap)}; after round 1 rss ${mb(first.rss)} heap ${mb(first.heap)}`,
  );
  if (ROUNDS > 1) {
    // Round 1 pays for first-use allocations; a leak shows as growth in the rounds after it.
    console.log(
      `after round ${ROUNDS} rss ${mb(last.rss)} heap ${mb(last.heap)}: growth from round 1 rss ${signedMb(last.rss - first.rss)}, heap ${signedMb(last.heap - first.heap)}`,
    );
  }
  console.log(`ratio read/health requests/s ${(readRate / healthRate).toFixed(2)}`);
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
} catch (error) {
  console.error(error);
  failures++;
} finally {
  await service.close();
  await rm(dataDir, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} failed requests or errors`);
  process.exitCode = 1;
}
