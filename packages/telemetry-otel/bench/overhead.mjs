// What the decorators cost, side by side with the undecorated adapters in one process: interleaved
// rounds (the order reversed every other round), medians, spread, ratios printed last.
//
//   pnpm --filter @proj/telemetry-otel... build && pnpm --filter @proj/telemetry-otel bench
//
// Goals (issue 18): with no SDK registered, under 2 % on the cache hit path (cache-memory) and
// under 1 % on a point query (adapter-postgres). With an SDK (explicit tracer and meter, every
// span sampled and dropped, metrics aggregated in memory) the figures are for information.
// BENCH_ONLY=cache or BENCH_ONLY=postgres runs one part; BENCH_ROUNDS sets the rounds.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { AlwaysOnSampler, NoopSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { createMemoryCache } from "@proj/cache-memory";
import { sql } from "@proj/ports";
import { instrumentCache, instrumentSqlDatabase } from "../dist/index.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const ONLY = process.env.BENCH_ONLY;
const CACHE_OPS = Number(process.env.BENCH_CACHE_OPS ?? 1_000_000);
const CACHE_KEYS = 10_000;
const POINT_OPS = Number(process.env.BENCH_POINT_OPS ?? 3_000);
const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
const fmt = (value, digits = 0) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median and spread ((max - min) / median, in percent). */
function summary(values) {
  const m = median(values);
  return { median: m, spread: ((Math.max(...values) - Math.min(...values)) / m) * 100 };
}

function gc() {
  if (typeof globalThis.gc === "function") globalThis.gc();
}

/** An SDK that samples every span and drops it, and a meter provider aggregating in memory. */
function sdk() {
  const tracerProvider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new NoopSpanProcessor()],
  });
  const meterProvider = new MeterProvider();
  return {
    tracer: tracerProvider.getTracer("bench"),
    meter: meterProvider.getMeter("bench"),
    shutdown: () => Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]),
  };
}

/**
 * Runs the contenders in interleaved rounds; each returns nanoseconds per operation (wall clock) and
 * CPU nanoseconds per operation. Returns the per-contender samples.
 */
async function interleave(contenders) {
  const samples = Object.fromEntries(contenders.map((c) => [c.name, { wall: [], cpu: [] }]));
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      gc();
      const { wall, cpu } = await contender.run();
      samples[contender.name].wall.push(wall);
      samples[contender.name].cpu.push(cpu);
    }
  }
  return samples;
}

const ratios = [];

function report(title, samples, baseline, unit, scale) {
  console.log(`\n${title}`);
  for (const [name, { wall, cpu }] of Object.entries(samples)) {
    const w = summary(wall);
    const c = summary(cpu);
    console.log(
      `  ${name.padEnd(34)} ${fmt(w.median / scale, scale === 1 ? 1 : 2).padStart(9)} ${unit}/op wall ` +
        `(spread ${w.spread.toFixed(1)} %), ${fmt(c.median / scale, scale === 1 ? 1 : 2).padStart(9)} ${unit}/op CPU ` +
        `(spread ${c.spread.toFixed(1)} %)`,
    );
  }
  const base = samples[baseline];
  for (const [name, { wall, cpu }] of Object.entries(samples)) {
    if (name === baseline) continue;
    const paired = median(wall.map((value, index) => value / base.wall[index]));
    ratios.push(
      `ratio ${title}: ${name} / ${baseline} = ${(median(wall) / median(base.wall)).toFixed(4)} wall ` +
        `(paired per round ${paired.toFixed(4)}), ${(median(cpu) / median(base.cpu)).toFixed(4)} CPU`,
    );
  }
}

/** Times `ops` awaited calls of `call(i)`; nanoseconds per operation, wall and CPU. */
async function timeLoop(ops, call) {
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) await call(i);
  const wall = Number(process.hrtime.bigint() - start) / ops;
  const used = process.cpuUsage(cpuStart);
  return { wall, cpu: ((used.user + used.system) * 1e3) / ops };
}

/**
 * Each contender gets a loop compiled for it alone, so no call site is shared between contenders
 * (a shared one goes polymorphic and slows whoever runs later).
 */
function cacheLoop(cache, keys) {
  const run = new (async () => {}).constructor(
    "cache",
    "keys",
    "ops",
    `let hits = 0;
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) if ((await cache.get(keys[i % keys.length])) !== undefined) hits++;
    const wall = Number(process.hrtime.bigint() - start) / ops;
    const used = process.cpuUsage(cpuStart);
    if (hits !== ops) throw new Error("a hit path that missed");
    return { wall, cpu: ((used.user + used.system) * 1e3) / ops };`,
  );
  return () => run(cache, keys, CACHE_OPS);
}

async function cacheHits(telemetry) {
  const keys = Array.from({ length: CACHE_KEYS }, (_, i) => `tenant:${i}:settings`);
  const make = async () => {
    const cache = createMemoryCache({ maxEntries: CACHE_KEYS * 2 });
    for (const [i, key] of keys.entries()) await cache.set(key, { id: i, plan: "pro" });
    return cache;
  };
  const plain = await make();
  const decorated = instrumentCache(await make());
  const withSdk = instrumentCache(await make(), { tracer: telemetry.tracer, meter: telemetry.meter });
  const contenders = [
    { name: "cache-memory", run: cacheLoop(plain, keys) },
    { name: "instrumented, no SDK", run: cacheLoop(decorated, keys) },
    { name: "instrumented, SDK (information)", run: cacheLoop(withSdk, keys) },
  ];
  for (const contender of contenders) await contender.run(); // warm-up
  report(
    `cache hit path (await get, ${fmt(CACHE_OPS)} hits per round)`,
    await interleave(contenders),
    "cache-memory",
    "ns",
    1,
  );
  await Promise.all([plain.close(), decorated.close(), withSdk.close()]);
}

async function pointQueries(telemetry) {
  const schema = `bench_otel_${randomBytes(4).toString("hex")}`;
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
  const open = () => createPostgresDatabase({ connectionString: POSTGRES_URL, schema, poolSize: 1 });
  const plain = open();
  const decorated = instrumentSqlDatabase(open());
  const withSdk = instrumentSqlDatabase(open(), { tracer: telemetry.tracer, meter: telemetry.meter });
  try {
    await plain.execute(sql`CREATE TABLE kv (id INTEGER PRIMARY KEY, label TEXT NOT NULL)`);
    await plain.execute(sql`INSERT INTO kv SELECT g, 'label ' || g FROM generate_series(1, 1000) g`);
    const loop = (db) => () =>
      timeLoop(POINT_OPS, (i) => db.queryOne(sql`SELECT id, label FROM kv WHERE id = ${(i % 1000) + 1}`));
    const contenders = [
      { name: "adapter-postgres", run: loop(plain) },
      { name: "instrumented, no SDK", run: loop(decorated) },
      { name: "instrumented, SDK (information)", run: loop(withSdk) },
    ];
    for (const contender of contenders) await contender.run(); // warm-up: pools open, code compiled
    report(
      `point query (queryOne by primary key, pool of 1, ${fmt(POINT_OPS)} queries per round)`,
      await interleave(contenders),
      "adapter-postgres",
      "µs",
      1e3,
    );
  } finally {
    await Promise.all([plain.close(), decorated.close(), withSdk.close()]);
    await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
    await admin.close();
  }
}

const telemetry = sdk();
console.log(
  `${new Date().toISOString()} node ${process.version}, ${ROUNDS} interleaved rounds, load average ${load()}`,
);
try {
  if (ONLY === undefined || ONLY === "cache") await cacheHits(telemetry);
  if (ONLY === undefined || ONLY === "postgres") await pointQueries(telemetry);
} finally {
  await telemetry.shutdown();
}
console.log(`\nload average at the end ${load()}`);
for (const line of ratios) console.log(line);
