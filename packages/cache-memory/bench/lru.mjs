// Mixed workload against lru-cache in one process: node --expose-gc bench/lru.mjs (after `pnpm build`).
import os from "node:os";
import { LRUCache } from "lru-cache";
import { createMemoryCache } from "../dist/index.js";

const OPS = 1_000_000;
const KEYS = 200_000;
const CAPACITY = 100_000;
const GET_SHARE = 0.9;
const ZIPF_S = 0.99;
const TTL_MS = 60_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SEED = 0x5eed;
/** BENCH_ONLY="+TTL,get-hits" runs only the contenders whose names contain one of the parts. */
const ONLY = process.env.BENCH_ONLY?.split(",");

/** mulberry32: a fixed seed makes every run draw the same workload. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Key indices drawn from a Zipf distribution over `n` keys (inverse CDF by binary search). */
function zipfIndices(n, count, random) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** ZIPF_S;
    cdf[i] = sum;
  }
  const out = new Uint32Array(count);
  for (let j = 0; j < count; j++) {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out[j] = lo;
  }
  // Rank 0 is the hottest key; scatter ranks so hot keys are not also adjacent insertion order.
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const k = Math.floor(random() * (i + 1));
    const t = perm[i];
    perm[i] = perm[k];
    perm[k] = t;
  }
  for (let j = 0; j < count; j++) out[j] = perm[out[j]];
  return out;
}

const random = prng(SEED);
const keys = Array.from({ length: KEYS }, (_, i) => `tenant:${i}:settings`);
const values = Array.from({ length: KEYS }, (_, i) => ({ id: i, plan: i % 3 === 0 ? "pro" : "free" }));
const mixedKeys = zipfIndices(KEYS, OPS, random);
const isGet = new Uint8Array(OPS);
for (let i = 0; i < OPS; i++) isGet[i] = random() < GET_SHARE ? 1 : 0;
const hitKeys = zipfIndices(CAPACITY, OPS, random);

function gc() {
  if (typeof globalThis.gc === "function") {
    globalThis.gc();
    globalThis.gc();
  }
}

/**
 * Compiles the loops for one contender with its calls written inline (`c.get(k)`), so every
 * contender gets call sites of its own: a loop shared between contenders would go polymorphic and
 * slow down whoever runs later.
 */
function compile(get, set) {
  const mixed = new Function(
    "c",
    "keys",
    "values",
    "mixedKeys",
    "isGet",
    `let gets = 0;
    let hits = 0;
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < ${OPS}; i++) {
      const k = mixedKeys[i];
      if (isGet[i] === 1) {
        gets++;
        if (${get("keys[k]")} !== undefined) hits++;
      } else {
        ${set("keys[k]", "values[k]")};
      }
    }
    const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    const cpuNs = (cpu.user + cpu.system) * 1e3;
    return { opsPerSec: (${OPS} * 1e9) / ns, opsPerCpuSec: (${OPS} * 1e9) / cpuNs, hitRate: hits / gets };`,
  );
  const hitsOnly = new Function(
    "c",
    "keys",
    "hitKeys",
    `let hits = 0;
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < ${OPS}; i++) if (${get("keys[hitKeys[i]]")} !== undefined) hits++;
    const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    const cpuNs = (cpu.user + cpu.system) * 1e3;
    return { opsPerSec: (${OPS} * 1e9) / ns, opsPerCpuSec: (${OPS} * 1e9) / cpuNs, hitRate: hits / ${OPS} };`,
  );
  const setEvict = new Function(
    "c",
    "keys",
    "values",
    `const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < ${OPS}; i++) ${set(`keys[i % ${KEYS}]`, `values[i % ${KEYS}]`)};
    const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    const cpuNs = (cpu.user + cpu.system) * 1e3;
    return { opsPerSec: (${OPS} * 1e9) / ns, opsPerCpuSec: (${OPS} * 1e9) / cpuNs, hitRate: Number.NaN };`,
  );
  const AsyncFunction = (async () => {}).constructor;
  const mixedAsync = new AsyncFunction(
    "c",
    "keys",
    "values",
    "mixedKeys",
    "isGet",
    `let gets = 0;
    let hits = 0;
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < ${OPS}; i++) {
      const k = mixedKeys[i];
      if (isGet[i] === 1) {
        gets++;
        if ((await ${get("keys[k]")}) !== undefined) hits++;
      } else {
        await ${set("keys[k]", "values[k]")};
      }
    }
    const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    const cpuNs = (cpu.user + cpu.system) * 1e3;
    return { opsPerSec: (${OPS} * 1e9) / ns, opsPerCpuSec: (${OPS} * 1e9) / cpuNs, hitRate: hits / gets };`,
  );
  return {
    mixed: (c) => mixed(c, keys, values, mixedKeys, isGet),
    hitsOnly: (c) => hitsOnly(c, keys, hitKeys),
    setEvict: (c) => setEvict(c, keys, values),
    mixedAsync: (c) => mixedAsync(c, keys, values, mixedKeys, isGet),
  };
}

const plain = () =>
  compile(
    (k) => `c.get(${k})`,
    (k, v) => `c.set(${k}, ${v})`,
  );
const sync = () =>
  compile(
    (k) => `c.getSync(${k})`,
    (k, v) => `c.setSync(${k}, ${v})`,
  );

function prefill(c, setName) {
  for (let i = 0; i < CAPACITY; i++) c[setName](keys[i], values[i]);
}

/**
 * Each contender: a fresh cache per round, and the compiled loop it runs on it. Workloads run in
 * phases (all rounds of one before the next), each comparing like with like, so that one workload's
 * leftovers (a full heap, code tuned to another access pattern) weigh on no other's comparison.
 */
const contenders = [
  { name: "mixed Map (ceiling, unbounded)", loops: plain(), make: () => new Map(), run: "mixed" },
  { name: "mixed lru-cache", loops: plain(), make: () => new LRUCache({ max: CAPACITY }), run: "mixed" },
  {
    name: "mixed cache-memory sync",
    baseline: "mixed lru-cache",
    loops: sync(),
    make: () => createMemoryCache({ maxEntries: CAPACITY }),
    run: "mixed",
  },
  {
    name: "mixed lru-cache +TTL",
    loops: plain(),
    make: () => new LRUCache({ max: CAPACITY, ttl: TTL_MS }),
    run: "mixed",
  },
  {
    name: "mixed cache-memory sync +TTL",
    baseline: "mixed lru-cache +TTL",
    loops: sync(),
    make: () => createMemoryCache({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
    run: "mixed",
  },
  {
    name: "get-hits lru-cache +TTL",
    phase: 2,
    loops: plain(),
    make: () => new LRUCache({ max: CAPACITY, ttl: TTL_MS }),
    prefill: "set",
    run: "hitsOnly",
  },
  {
    name: "get-hits cache-memory sync +TTL",
    phase: 2,
    baseline: "get-hits lru-cache +TTL",
    loops: sync(),
    make: () => createMemoryCache({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
    prefill: "setSync",
    run: "hitsOnly",
  },
  {
    name: "set-evict lru-cache +TTL",
    phase: 3,
    loops: plain(),
    make: () => new LRUCache({ max: CAPACITY, ttl: TTL_MS }),
    run: "setEvict",
  },
  {
    name: "set-evict cache-memory sync +TTL",
    phase: 3,
    baseline: "set-evict lru-cache +TTL",
    loops: sync(),
    make: () => createMemoryCache({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
    run: "setEvict",
  },
  // Last phase: the port's promise per call, against the sync path measured alongside it, so that
  // its allocation churn lands in no comparison with lru-cache.
  {
    name: "mixed cache-memory sync +TTL (phase 4)",
    phase: 4,
    loops: sync(),
    make: () => createMemoryCache({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
    run: "mixed",
  },
  {
    name: "mixed cache-memory async port +TTL",
    phase: 4,
    baseline: "mixed cache-memory sync +TTL (phase 4)",
    loops: plain(),
    make: () => createMemoryCache({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
    run: "mixedAsync",
  },
];

/**
 * One measured run. The cache lives only in this call's frame, so the heap delta taken while it is
 * still in use is what that cache holds (the keys and values it refers to belong to the workload).
 */
async function runOne(contender) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = contender.make();
  if (contender.prefill) prefill(cache, contender.prefill);
  const result = await contender.loops[contender.run](cache);
  gc();
  const held = process.memoryUsage().heapUsed - before;
  const entries = typeof cache.statsSync === "function" ? cache.statsSync().size : cache.size;
  return { ...result, held, entries };
}

const results = new Map(contenders.map((c) => [c.name, []]));
for (const phase of [1, 2, 3, 4]) {
  for (let round = 0; round < ROUNDS; round++) {
    for (const contender of contenders) {
      if ((contender.phase ?? 1) !== phase) continue;
      if (ONLY !== undefined && !ONLY.some((part) => contender.name.includes(part))) continue;
      results.get(contender.name).push(await runOne(contender));
    }
  }
}

/**
 * The best of the rounds: on a shared machine every disturbance (another process, a migration to a
 * busy core) only ever slows a round down, so the fastest round is the least disturbed one.
 */
const best = (xs) => Math.max(...xs);
const million = (x) => (x / 1e6).toFixed(2).padStart(6);
/** Ratios use CPU time: on a shared machine, wall time also counts the time other processes ran. */
const summary = new Map();
console.log(
  `${OPS.toLocaleString("en")} ops, ${KEYS.toLocaleString("en")} Zipf(${ZIPF_S}) keys, capacity ` +
    `${CAPACITY.toLocaleString("en")}, ${GET_SHARE * 100}% get; best of ${ROUNDS} rounds; seed ${SEED}; ` +
    `node ${process.version}; load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs`,
);
console.log(`${"".padEnd(40)} M ops/s  M ops/CPU-s  hit rate  entries  heap held`);
for (const { name } of contenders) {
  const runs = results.get(name);
  if (runs.length === 0) continue;
  const wall = best(runs.map((r) => r.opsPerSec));
  const cpu = best(runs.map((r) => r.opsPerCpuSec));
  summary.set(name, cpu);
  const heap =
    typeof globalThis.gc === "function"
      ? `${(Math.max(...runs.map((r) => r.held)) / 2 ** 20).toFixed(1)} MiB`
      : "n/a (--expose-gc)";
  console.log(
    `${name.padEnd(40)} ${million(wall)}  ${million(cpu)}       ${Number.isNaN(runs[0].hitRate) ? "     -" : `${(runs[0].hitRate * 100).toFixed(1).padStart(5)}%`}  ${String(runs[0].entries).padStart(7)}  ${heap}`,
  );
}
for (const { name, baseline } of contenders) {
  if (baseline === undefined || !summary.has(name) || !summary.has(baseline)) continue;
  console.log(`ratio ${name} / ${baseline}: ${(summary.get(name) / summary.get(baseline)).toFixed(2)}`);
}
