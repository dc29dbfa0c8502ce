// Load test: the service runs in a process of its own (bench/serve.mjs, composed from ../dist with
// the same composition root and configuration loader as `pnpm start`) on a fresh temporary
// DATA_DIR; this process is the load generator (autocannon) and talks to it over 127.0.0.1 only,
// so the client never runs in the service's event loop. Adapters come from DATABASE_URL /
// STORAGE_URL / CACHE_URL when set, else the embedded defaults. Tokens are always development
// tokens, so JWT settings in the environment are ignored.
//
//   pnpm --filter tenant-reports build && pnpm --filter tenant-reports bench
//
// Knobs: BENCH_SECONDS (5), BENCH_ORDERS (2000), BENCH_TENANTS (200), BENCH_ROUNDS (6, made even),
// BENCH_PROFILE=<folder> (a CPU profile of the service during the last round's list phase).
import { fork } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";

const SECONDS = positiveInteger("BENCH_SECONDS", 5);
const ORDERS = positiveInteger("BENCH_ORDERS", 2_000);
const TENANTS = positiveInteger("BENCH_TENANTS", 200);
// Rounds come in pairs: read goes first in one, list in the other.
const ROUNDS = 2 * Math.ceil(positiveInteger("BENCH_ROUNDS", 6) / 2);
const PROFILE = process.env.BENCH_PROFILE;
// Each phase stops at SECONDS or at this many requests, whichever comes first.
const READ = { connections: 20, maxOverallRequests: 200_000 };
const REPORT = { connections: 4, maxOverallRequests: 2_000 };
/** The list phase walks the first pages of the default size (50) with their cursors. */
const LIST_PAGES = 4;

function positiveInteger(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

const mb = (bytes) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const signedMb = (bytes) => `${bytes >= 0 ? "+" : ""}${mb(bytes)}`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const spread = (values) => ((Math.max(...values) - Math.min(...values)) / median(values)) * 100;

/** The service process, and a call into it over IPC. */
async function startService(env) {
  const child = fork(new URL("./serve.mjs", import.meta.url), {
    env,
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map();
  let nextId = 0;
  const ready = new Promise((resolveReady, rejectReady) => {
    child.once("exit", (code) => rejectReady(new Error(`the service exited (${code}) before it listened`)));
    child.on("message", (message) => {
      if (message.ready) {
        resolveReady(message);
        return;
      }
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error === undefined) waiter?.resolve(message.result);
      else waiter?.reject(new Error(`service: ${message.error}`));
    });
  });
  const call = (operation, argument) =>
    new Promise((resolveCall, rejectCall) => {
      const id = nextId++;
      pending.set(id, { resolve: resolveCall, reject: rejectCall });
      child.send({ id, operation, argument });
    });
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  const { base, description } = await ready;
  return { base, description, call, child, exited };
}

const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-bench-"));
const { JWT_SECRET, JWT_JWKS_URL, LOG_REQUESTS, ...env } = process.env;
let service;
let failures = 0;
try {
  service = await startService({
    ...env,
    DATA_DIR: dataDir,
    CACHE_NAMESPACE: env.CACHE_NAMESPACE ?? `tenant-reports-bench-${Date.now().toString(36)}`,
  });
  const { base, call: serviceCall } = service;
  console.log(`tenant-reports load test: ${service.description}`);
  console.log(
    `${new Date().toISOString()} node ${process.version}, ${availableParallelism()} cores, load average ${load()}; ` +
      `service pid ${service.child.pid}, load generator pid ${process.pid}; ${SECONDS} s per phase, ` +
      `${TENANTS} tenants, ${ORDERS} orders, ${ROUNDS} rounds`,
  );

  const http = async (token, method, path, body) => {
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
  const adminToken = await serviceCall("issue", { subject: "bench-admin", roles: ["admin"] });
  const stamp = Date.now().toString(36);
  const tenant = await (
    await http(adminToken, "POST", "/tenants", { slug: `bench-${stamp}`, name: "Bench Corp", plan: "pro" })
  ).json();
  for (let i = 1; i < TENANTS; i++) {
    await http(adminToken, "POST", "/tenants", {
      slug: `bench-${stamp}-${i}`,
      name: `Tenant ${i}`,
      plan: i % 3 === 0 ? "enterprise" : "pro",
      settings: { seats: i, region: "eu-west", features: ["reports", "sso"] },
    });
  }
  const token = await serviceCall("issue", {
    subject: "bench-user",
    tenantId: tenant.id,
    expiresInSeconds: 3_600,
  });
  await http(token, "POST", "/orders/sample", { count: ORDERS });

  // The pages the list phase asks for, each checked once: 50 tenants, and a cursor to the next.
  const listPaths = ["/tenants"];
  for (let page = 1; page <= LIST_PAGES; page++) {
    const path = listPaths.at(-1);
    const body = await (await http(adminToken, "GET", path)).json();
    if (body.items.length !== Math.min(50, TENANTS - (page - 1) * 50)) {
      throw new Error(`list check: ${path} answered ${body.items.length} tenants`);
    }
    if (body.nextCursor === undefined) break;
    if (page < LIST_PAGES) listPaths.push(`/tenants?after=${encodeURIComponent(body.nextCursor)}`);
  }

  // One checked report before loading: the phase below measures real reports, not error answers.
  // A report is a job: request it, then poll its status until a worker has made it.
  const { id: reportId } = await (await http(token, "POST", "/reports", { format: "csv" })).json();
  let report;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    report = await (await http(token, "GET", `/reports/${reportId}/status`)).json();
    if (report.status === "done") break;
    if (report.status === "failed") throw new Error(`report ${reportId} failed: ${report.errorCode}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  const lines = (await (await http(token, "GET", `/reports/${report.id}`)).text()).trimEnd().split("\r\n");
  if (report.rowCount !== ORDERS || lines.length !== ORDERS + 1) {
    throw new Error(`report check: ${report.rowCount} rows reported, ${lines.length - 1} downloaded`);
  }
  console.log(
    `setup: ${TENANTS} tenants, ${ORDERS} orders of tenant ${tenant.id}, a ${report.byteSize}-byte CSV report checked by download; list phase over ${listPaths.length} pages of 50`,
  );

  const phases = {
    health: { title: "GET /health (no token: baseline)", requests: [{ path: "/health" }], ...READ },
    read: {
      title: "GET /tenants/:id (tenant token, cached)",
      requests: [{ path: `/tenants/${tenant.id}` }],
      token,
      ...READ,
    },
    list: {
      title: `GET /tenants, pages of 50 (admin token, ${listPaths.length} pages in turn)`,
      requests: listPaths.map((path) => ({ path })),
      token: adminToken,
      ...READ,
    },
    report: {
      title: "POST /reports csv (enqueue only: the scale-out bench, bench/scale.mjs, times reports to done)",
      requests: [{ path: "/reports", method: "POST", body: JSON.stringify({ format: "csv" }) }],
      token,
      json: true,
      ...REPORT,
    },
  };

  async function run(name, { duration = SECONDS, profile } = {}) {
    const { title, requests, token: bearer, json, connections, maxOverallRequests } = phases[name];
    const before = await serviceCall("settledMemory");
    await serviceCall("startSampling");
    if (profile) await serviceCall("startProfile");
    const cpuBefore = await serviceCall("cpu");
    let result;
    try {
      result = await autocannon({
        url: base,
        requests,
        headers: {
          ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
          ...(json ? { "content-type": "application/json" } : {}),
        },
        connections,
        duration,
        maxOverallRequests,
      });
    } finally {
      if (profile)
        console.log(`       CPU profile of the service: ${await serviceCall("stopProfile", profile)}`);
    }
    const cpuMicros = ((await serviceCall("cpu")) - cpuBefore) / result.requests.total;
    const peak = await serviceCall("stopSampling");
    const after = await serviceCall("settledMemory");
    failures += result.non2xx + result.errors + result.timeouts;
    const rate = result.requests.total / result.duration;
    console.log(
      `${name.padEnd(6)} ${title}: ${connections} connections, ${result.requests.total} requests in ${result.duration.toFixed(1)} s = ${rate.toFixed(0)} req/s, service CPU ${cpuMicros.toFixed(0)} µs/request, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}; load average ${load()}`,
    );
    console.log(
      `       service memory: before rss ${mb(before.rss)} heap ${mb(before.heap)}; peak during rss ${mb(peak.rss)} heap ${mb(peak.heap)}; after GC rss ${mb(after.rss)} (${signedMb(after.rss - before.rss)}) heap ${mb(after.heap)} (${signedMb(after.heap - before.heap)})`,
    );
    return { rate, cpuMicros };
  }

  // Warm-up (not measured): JIT, the cache entries, the token cache.
  await run("read", { duration: 2 });
  await run("list", { duration: 2 });
  await run("report", { duration: 2 });

  const start = await serviceCall("settledMemory");
  const settled = [];
  const rates = { read: [], list: [] };
  const cpus = { read: [], list: [] };
  let healthRate = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}`);
    if (round === 1) healthRate = (await run("health")).rate;
    // Read and list take turns going first, so a burst of load on the machine hits both alike.
    for (const name of round % 2 === 1 ? ["read", "list"] : ["list", "read"]) {
      const profile =
        PROFILE !== undefined && name === "list" && round === ROUNDS
          ? join(resolve(PROFILE), `tenant-reports-list-${Date.now()}.cpuprofile`)
          : undefined;
      if (profile) await mkdir(resolve(PROFILE), { recursive: true });
      const { rate, cpuMicros } = await run(name, { profile });
      rates[name].push(rate);
      cpus[name].push(cpuMicros);
    }
    await run("report");
    settled.push(await serviceCall("settledMemory"));
  }
  const first = settled[0];
  const last = settled.at(-1);
  console.log(
    `service memory after GC: start rss ${mb(start.rss)} heap ${mb(start.heap)}; after round 1 rss ${mb(first.rss)} heap ${mb(first.heap)}`,
  );
  if (ROUNDS > 1) {
    // Round 1 pays for first-use allocations; a leak shows as growth in the rounds after it.
    console.log(
      `after round ${ROUNDS} rss ${mb(last.rss)} heap ${mb(last.heap)}: growth from round 1 rss ${signedMb(last.rss - first.rss)}, heap ${signedMb(last.heap - first.heap)}`,
    );
  }
  const read = median(rates.read);
  const list = median(rates.list);
  // A round's ratio is paired with the next round's, where the order is swapped: the geometric
  // mean of the two cancels any edge of going first or second.
  const perRound = rates.list.map((rate, index) => rate / rates.read[index]);
  const paired = median(
    perRound.flatMap((ratio, index) => (index % 2 === 0 ? [Math.sqrt(ratio * perRound[index + 1])] : [])),
  );
  console.log(
    `median of ${ROUNDS} rounds: read ${read.toFixed(0)} req/s (spread ${spread(rates.read).toFixed(0)}%), list ${list.toFixed(0)} req/s (spread ${spread(rates.list).toFixed(0)}%); load average at the end ${load()}`,
  );
  console.log(
    `service CPU per request, median: read ${median(cpus.read).toFixed(0)} µs (spread ${spread(cpus.read).toFixed(0)}%), list ${median(cpus.list).toFixed(0)} µs (spread ${spread(cpus.list).toFixed(0)}%)`,
  );
  console.log(`ratio read/health requests/s ${(read / healthRate).toFixed(2)}`);
  console.log(
    `ratio list/read by service CPU per request (read µs / list µs) ${(median(cpus.read) / median(cpus.list)).toFixed(2)}`,
  );
  console.log(
    `ratio list/read requests/s ${(list / read).toFixed(2)} (median of paired rounds ${paired.toFixed(2)}; per round ${perRound.map((r) => r.toFixed(2)).join(" ")}; goal >= 0.5)`,
  );
} catch (error) {
  console.error(error);
  failures++;
} finally {
  if (service !== undefined) {
    await service.call("close").catch(() => service.child.kill());
    await service.exited;
  }
  await rm(dataDir, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} failed requests or errors`);
  process.exitCode = 1;
}
