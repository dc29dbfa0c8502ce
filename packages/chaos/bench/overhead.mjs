// Overhead of the chaos decorator whose rules never fire (rate 0, so every call still draws and
// decides), against the undecorated adapter, side by side in one process with interleaved rounds:
// node bench/overhead.mjs (after `pnpm build`). BENCH_ROUNDS sets the rounds (default 9).
import os from "node:os";
import { PGlite } from "@electric-sql/pglite";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createMemoryCache } from "@proj/cache-memory";
import { sql } from "@proj/ports";
import { createChaos, withChaosCache, withChaosSqlDatabase } from "../dist/index.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const CACHE_OPS = 200_000;
const QUERY_OPS = 3_000;

/** Rules at rate 0 on every call: an error rule, a latency rule and one filtering on keys. */
const silent = () =>
  createChaos({
    seed: 1,
    rules: [
      { rate: 0, error: "UNAVAILABLE" },
      { rate: 0, latencyMs: [10, 100] },
      { rate: 0, keys: "tenant:*", error: { code: "TIMEOUT", outcome: "unknown" }, phase: "after" },
    ],
  });

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values) => {
  const m = median(values);
  return `${(((Math.min(...values) - m) / m) * 100).toFixed(1)}%/+${(((Math.max(...values) - m) / m) * 100).toFixed(1)}%`;
};
const fmt = (n) => Math.round(n).toLocaleString("en");

async function measure(contenders, ops) {
  const results = new Map(contenders.map((c) => [c.name, []]));
  for (const contender of contenders) await contender.run(Math.min(ops, 2_000)); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      const start = process.hrtime.bigint();
      await contender.run(ops);
      const ns = Number(process.hrtime.bigint() - start);
      results.get(contender.name).push((ops * 1e9) / ns);
    }
  }
  return results;
}

function report(title, results, baseline) {
  console.log(`\n${title}`);
  console.log("contender | ops/s (median) | µs per call | spread (min/max vs median)");
  console.log("--- | --- | --- | ---");
  for (const [name, values] of results)
    console.log(
      `${name} | ${fmt(median(values))} | ${(1e6 / median(values)).toFixed(2)} | ${spread(values)}`,
    );
  const base = results.get(baseline);
  const ratios = [];
  for (const [name, values] of results) {
    if (name === baseline) continue;
    const perRound = values.map((value, i) => value / base[i]);
    const added = median(values.map((value, i) => 1e6 / value - 1e6 / base[i]));
    ratios.push(
      `${name} / ${baseline}: ${median(perRound).toFixed(3)} (rounds ${Math.min(...perRound).toFixed(3)}–${Math.max(...perRound).toFixed(3)}; ${added.toFixed(2)} µs added per call, median of rounds)`,
    );
  }
  return ratios;
}

console.log(`@proj/chaos overhead bench — ${new Date().toISOString()}`);
console.log(
  `node ${process.version}, ${os.cpus().length} cpus, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log(
  `${ROUNDS} interleaved rounds; three rules at rate 0 matching every call (error, latency, keyed)`,
);

const memory = createMemoryCache({ maxEntries: 1_000 });
await memory.set("tenant:1:settings", { plan: "pro" });
const cacheContenders = [
  { name: "cache-memory", cache: memory },
  { name: "chaos (rate 0)", cache: withChaosCache(memory, silent()) },
].map(({ name, cache }) => ({
  name,
  async run(ops) {
    let hits = 0;
    for (let i = 0; i < ops; i++) if ((await cache.get("tenant:1:settings")) !== undefined) hits++;
    if (hits !== ops) throw new Error(`${name}: ${hits} hits of ${ops}`);
  },
}));
const cacheRatios = report(
  `Cache.get hit path (cache-memory), ${fmt(CACHE_OPS)} awaited calls per round`,
  await measure(cacheContenders, CACHE_OPS),
  "cache-memory",
);

const engine = new PGlite("memory://");
await engine.waitReady;
const db = createPgliteDatabase({ pglite: engine, schema: "bench" });
await db.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)`);
await db.insertMany(
  "items",
  ["id", "label"],
  Array.from({ length: 10_000 }, (_, i) => [i + 1, `item ${i + 1}`]),
);
const queryContenders = [
  { name: "adapter-pglite", db },
  { name: "chaos (rate 0)", db: withChaosSqlDatabase(db, silent()) },
].map(({ name, db: target }) => ({
  name,
  async run(ops) {
    for (let i = 0; i < ops; i++) {
      const id = (i % 10_000) + 1;
      const row = await target.queryOne(sql`SELECT label FROM items WHERE id = ${id}`);
      if (row?.label !== `item ${id}`) throw new Error(`${name}: wrong row for ${id}`);
    }
  },
}));
const queryRatios = report(
  `SqlDatabase.queryOne point query (PGlite, in process), ${fmt(QUERY_OPS)} awaited calls per round`,
  await measure(queryContenders, QUERY_OPS),
  "adapter-pglite",
);
await db.close();
await engine.close();

console.log(
  `\nload average at the end ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log("\nratios (decorated / undecorated throughput, median of per-round ratios):");
for (const line of [
  ...cacheRatios.map((r) => `cache hit: ${r}`),
  ...queryRatios.map((r) => `point query: ${r}`),
])
  console.log(line);
