// cache-memory against lru-cache in one process: node --expose-gc bench/lru.mjs (after `pnpm build`).
import { readFileSync } from "node:fs";
import os from "node:os";
import { LRUCache } from "lru-cache";
import { createMemoryCache } from "../dist/index.js";

const LRU_VERSION = JSON.parse(
  readFileSync(new URL("../node_modules/lru-cache/package.json", import.meta.url), "utf8"),
).version;
const OPS = 1_000_000;
const KEYS = 200_000;
const CAPACITY = 100_000;
/** Cache-aside runs: a cache that holds a quarter of the keys, so it fills and then evicts. */
const ASIDE_CAPACITY = 50_000;
const GET_SHARE = 0.9;
const ZIPF_S = 0.99;
const TTL_MS = 60_000;
/** Short enough that entries expire during a run, so expiry and LRU eviction both take entries. */
const SHORT_TTL_MS = 25;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SEED = 0x5eed;
/** BENCH_ONLY="aside,port" runs only the workloads whose names contain one of the parts. */
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

const MEASURE_START = `const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();`;
const MEASURE_END = `const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    const cpuNs = (cpu.user + cpu.system) * 1e3;`;
const RESULT = (hitRate) =>
  `return { opsPerSec: (${OPS} * 1e9) / ns, opsPerCpuSec: (${OPS} * 1e9) / cpuNs, hitRate: ${hitRate} };`;

/**
 * Builds the loop of one workload for one contender with its calls written inline (`c.get(k)`), so
 * every contender gets call sites of its own: a loop shared between contenders would go polymorphic
 * and slow down whoever runs later. `awaited` makes it an async loop that awaits every call.
 */
function loop(workload, { get, set, awaited }) {
  const aw = awaited ? "await " : "";
  const bodies = {
    mixed: `let gets = 0;
    let hits = 0;
    ${MEASURE_START}
    for (let i = 0; i < ${OPS}; i++) {
      const k = mixedKeys[i];
      if (isGet[i] === 1) {
        gets++;
        if ((${aw}${get("keys[k]")}) !== undefined) hits++;
      } else {
        ${aw}${set("keys[k]", "values[k]")};
      }
    }
    ${MEASURE_END}
    ${RESULT("hits / gets")}`,
    aside: `let hits = 0;
    ${MEASURE_START}
    for (let i = 0; i < ${OPS}; i++) {
      const k = mixedKeys[i];
      if ((${aw}${get("keys[k]")}) !== undefined) hits++;
      else ${aw}${set("keys[k]", "values[k]")};
    }
    ${MEASURE_END}
    ${RESULT(`hits / ${OPS}`)}`,
    hits: `let hits = 0;
    ${MEASURE_START}
    for (let i = 0; i < ${OPS}; i++) if ((${aw}${get("keys[hitKeys[i]]")}) !== undefined) hits++;
    ${MEASURE_END}
    ${RESULT(`hits / ${OPS}`)}`,
    evict: `${MEASURE_START}
    for (let i = 0; i < ${OPS}; i++) ${aw}${set(`keys[i % ${KEYS}]`, `values[i % ${KEYS}]`)};
    ${MEASURE_END}
    ${RESULT("Number.NaN")}`,
  };
  const Fn = awaited ? (async () => {}).constructor : Function;
  const compiled = new Fn("c", "keys", "values", "mixedKeys", "isGet", "hitKeys", bodies[workload]);
  return (c) => compiled(c, keys, values, mixedKeys, isGet, hitKeys);
}

const plain = { get: (k) => `c.get(${k})`, set: (k, v) => `c.set(${k}, ${v})` };
const sync = { get: (k) => `c.getSync(${k})`, set: (k, v) => `c.setSync(${k}, ${v})` };
const port = { ...plain, awaited: true };

const lru = (options) => () => new LRUCache(options);
const memory = (options) => () => createMemoryCache(options);

/**
 * Each workload: its contenders, run in interleaved rounds (the order reversed every other round,
 * so neither side always runs first), and the comparisons printed as ratios. The first contender
 * of a comparison is ours, the second the baseline. Workloads run one after the other, so one
 * workload's leftovers (a full heap, promise churn) weigh on no other comparison.
 */
const workloads = [
  {
    name: "mixed",
    what: `90 % get / 10 % set, Zipf over ${KEYS.toLocaleString("en")} keys, capacity ${CAPACITY.toLocaleString("en")}`,
    run: "mixed",
    contenders: [
      { name: "lru-cache", make: lru({ max: CAPACITY }), calls: plain },
      { name: "cache-memory sync", make: memory({ maxEntries: CAPACITY }), calls: sync },
      { name: "lru-cache +TTL", make: lru({ max: CAPACITY, ttl: TTL_MS }), calls: plain },
      {
        name: "cache-memory sync +TTL",
        make: memory({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
        calls: sync,
      },
    ],
    ratios: [
      ["cache-memory sync", "lru-cache"],
      ["cache-memory sync +TTL", "lru-cache +TTL"],
    ],
  },
  {
    name: "port",
    what: "the mixed workload through the Cache port: `await cache.get/set` per call",
    run: "mixed",
    contenders: [
      { name: "lru-cache", make: lru({ max: CAPACITY }), calls: plain },
      { name: "lru-cache awaited", make: lru({ max: CAPACITY }), calls: port },
      { name: "cache-memory port", make: memory({ maxEntries: CAPACITY }), calls: port },
      {
        name: "cache-memory port +TTL",
        make: memory({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
        calls: port,
      },
      { name: "lru-cache +TTL", make: lru({ max: CAPACITY, ttl: TTL_MS }), calls: plain },
    ],
    ratios: [
      ["cache-memory port", "lru-cache"],
      ["cache-memory port", "lru-cache awaited"],
      ["cache-memory port +TTL", "lru-cache +TTL"],
    ],
  },
  {
    name: "aside",
    what: `cache-aside with a ${TTL_MS / 1000} s TTL (get, and set on a miss), Zipf over ${KEYS.toLocaleString("en")} keys, capacity ${ASIDE_CAPACITY.toLocaleString("en")}: fills, then evicts`,
    run: "aside",
    contenders: [
      { name: "lru-cache +TTL", make: lru({ max: ASIDE_CAPACITY, ttl: TTL_MS }), calls: plain },
      {
        name: "cache-memory sync +TTL",
        make: memory({ maxEntries: ASIDE_CAPACITY, defaultTtlMs: TTL_MS }),
        calls: sync,
      },
      {
        name: "cache-memory port +TTL",
        make: memory({ maxEntries: ASIDE_CAPACITY, defaultTtlMs: TTL_MS }),
        calls: port,
      },
    ],
    ratios: [
      ["cache-memory sync +TTL", "lru-cache +TTL"],
      ["cache-memory port +TTL", "lru-cache +TTL"],
    ],
  },
  {
    name: "expiring",
    what: `cache-aside with a ${SHORT_TTL_MS} ms TTL, capacity ${ASIDE_CAPACITY.toLocaleString("en")}: entries expire during the run while LRU eviction also takes them (hit rate depends on speed)`,
    run: "aside",
    contenders: [
      { name: "lru-cache +TTL", make: lru({ max: ASIDE_CAPACITY, ttl: SHORT_TTL_MS }), calls: plain },
      {
        name: "cache-memory sync +TTL",
        make: memory({ maxEntries: ASIDE_CAPACITY, defaultTtlMs: SHORT_TTL_MS }),
        calls: sync,
      },
    ],
    ratios: [["cache-memory sync +TTL", "lru-cache +TTL"]],
  },
  {
    name: "get-hits",
    what: `gets only, Zipf over the ${CAPACITY.toLocaleString("en")} keys held, ${TTL_MS / 1000} s TTL`,
    run: "hits",
    prefill: true,
    contenders: [
      { name: "lru-cache +TTL", make: lru({ max: CAPACITY, ttl: TTL_MS }), calls: plain },
      {
        name: "cache-memory sync +TTL",
        make: memory({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
        calls: sync,
      },
    ],
    ratios: [["cache-memory sync +TTL", "lru-cache +TTL"]],
  },
  {
    name: "set-evict",
    what: `sets only, cycling over ${KEYS.toLocaleString("en")} keys: every one evicts; ${TTL_MS / 1000} s TTL`,
    run: "evict",
    contenders: [
      { name: "lru-cache +TTL", make: lru({ max: CAPACITY, ttl: TTL_MS }), calls: plain },
      {
        name: "cache-memory sync +TTL",
        make: memory({ maxEntries: CAPACITY, defaultTtlMs: TTL_MS }),
        calls: sync,
      },
    ],
    ratios: [["cache-memory sync +TTL", "lru-cache +TTL"]],
  },
];

/**
 * One measured run on a fresh cache. The cache lives only in this call's frame, so the heap delta
 * taken while it is still in use is what that cache holds (keys and values belong to the workload).
 */
async function runOne(workload, contender) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = contender.make();
  if (workload.prefill) {
    for (let i = 0; i < CAPACITY; i++) cache.set(keys[i], values[i]);
  }
  const result = await contender.loop(cache);
  gc();
  const held = process.memoryUsage().heapUsed - before;
  // Read after the heap figure, so the cache is still alive when it is taken.
  const entries = typeof cache.statsSync === "function" ? cache.statsSync().size : cache.size;
  return { ...result, held, entries };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
const million = (x) => (x / 1e6).toFixed(2);
const pad = (s, n) => String(s).padStart(n);

const loadAtStart = load();
console.log(
  `cache-memory vs lru-cache ${LRU_VERSION}: ${OPS.toLocaleString("en")} ops per run, Zipf(${ZIPF_S}), ` +
    `seed ${SEED}, ${ROUNDS} interleaved rounds per workload; node ${process.version}; ` +
    `${os.availableParallelism()} CPUs; ${new Date().toISOString()}`,
);
console.log(`load average (1/5/15 min) at start: ${loadAtStart}`);
console.log(
  "Figures: median over the rounds and, in brackets, the spread (min–max). Ratios are medians of\n" +
    "per-round ratios of ops per CPU-second (wall time also counts other processes' turns).",
);

const ratioLines = [];
for (const workload of workloads) {
  if (ONLY !== undefined && !ONLY.some((part) => workload.name.includes(part))) continue;
  for (const contender of workload.contenders) contender.loop = loop(workload.run, contender.calls);
  const runs = new Map(workload.contenders.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? workload.contenders : [...workload.contenders].reverse();
    for (const contender of order) runs.get(contender.name).push(await runOne(workload, contender));
  }
  console.log(`\n${workload.name}: ${workload.what}`);
  console.log(`${"".padEnd(26)}      M ops/s       M ops/CPU-s    hit rate  entries  heap held`);
  for (const { name } of workload.contenders) {
    const rs = runs.get(name);
    const wall = rs.map((r) => r.opsPerSec);
    const cpu = rs.map((r) => r.opsPerCpuSec);
    const hit = median(rs.map((r) => r.hitRate));
    console.log(
      `${name.padEnd(26)} ${pad(million(median(wall)), 5)} [${million(Math.min(...wall))}–${million(Math.max(...wall))}]` +
        `  ${pad(million(median(cpu)), 5)} [${million(Math.min(...cpu))}–${million(Math.max(...cpu))}]` +
        `  ${Number.isNaN(hit) ? "      -" : `${(hit * 100).toFixed(1).padStart(6)}%`}` +
        `  ${pad(rs[0].entries, 7)}` +
        `  ${typeof globalThis.gc === "function" ? `${(median(rs.map((r) => r.held)) / 2 ** 20).toFixed(1)} MiB` : "n/a"}`,
    );
  }
  for (const [ours, baseline] of workload.ratios) {
    const perRound = runs.get(ours).map((r, i) => r.opsPerCpuSec / runs.get(baseline)[i].opsPerCpuSec);
    ratioLines.push(
      `ratio ${workload.name}: ${ours} / ${baseline}: ${median(perRound).toFixed(2)} ` +
        `[${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}]`,
    );
  }
}
console.log(`\nload average (1/5/15 min) at end: ${load()} (start: ${loadAtStart})`);
for (const line of ratioLines) console.log(line);
