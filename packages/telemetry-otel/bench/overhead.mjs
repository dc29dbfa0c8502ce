// What the decorators cost, side by side with the undecorated adapters in one process.
//
//   pnpm --filter @proj/telemetry-otel... build && pnpm --filter @proj/telemetry-otel bench
//
// Goals (issue 18): with no SDK registered, under 2 % on the cache hit path (cache-memory) and
// under 1 % on a point query (adapter-postgres). The figures with an SDK (an explicit tracer that
// samples every span and drops it, metrics aggregated in memory) are for information.
//
// Method: the decorated and the undecorated contender share ONE adapter instance (same memory,
// same connection), so only the decorator differs. Many short rounds run the contenders in a
// shuffled order (seeded), and the statistic is the median over rounds of nanoseconds per call,
// with the paired per-round ratio next to it. V8 runs a loop measurably faster (up to 20 % here)
// depending on the order in which the loops were compiled, whatever they hold: so the run is cut
// into epochs, each compiling every contender's loop afresh in a rotated order, and an A/A
// control (the undecorated adapter again, through a loop of its own) shows the floor of noise
// the other ratios stand on. Load average is printed before and after.
//
// BENCH_ONLY=cache|postgres runs one part; BENCH_ROUNDS, BENCH_CACHE_OPS, BENCH_POINT_OPS size it.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { AlwaysOnSampler, NoopSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { createMemoryCache } from "@proj/cache-memory";
import { sql } from "@proj/ports";
import { instrumentCache, instrumentSqlDatabase } from "../dist/index.js";

const ONLY = process.env.BENCH_ONLY;
const CACHE_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 400);
const CACHE_OPS = Number(process.env.BENCH_CACHE_OPS ?? 20_000);
const CACHE_KEYS = 10_000;
const POINT_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 80);
const POINT_OPS = Number(process.env.BENCH_POINT_OPS ?? 300);
/** The SDK contender is ~30x slower per cache call: fewer calls per round keep the run short. */
const SDK_SHARE = 0.05;
const SDK_ROUNDS = 40;
const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
const fmt = (value, digits) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}
const median = (values) => quantile(values, 0.5);

/** mulberry32: the same shuffles on every run. */
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

function shuffle(items, random) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
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
 * Runs `count` rounds of every contender, in a shuffled order each round, over as many epochs as
 * there are contenders: each epoch compiles every contender's loop afresh (`contender.loop()`),
 * in an order rotated by one from the previous epoch, and warms them up. Returns ns per call, per
 * round, by contender.
 */
async function rounds(count, contenders, warmUp) {
  const random = prng(0x5eed);
  const samples = new Map(contenders.map((contender) => [contender.name, []]));
  const epochs = contenders.length;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = [...contenders.slice(epoch), ...contenders.slice(0, epoch)];
    const compiled = order.map((contender) => ({ name: contender.name, run: contender.loop() }));
    for (let i = 0; i < warmUp; i++) for (const contender of compiled) await contender.run();
    for (let round = 0; round < Math.ceil(count / epochs); round++) {
      for (const contender of shuffle(compiled, random))
        samples.get(contender.name).push(await contender.run());
    }
  }
  return samples;
}

const ratios = [];

function report(title, unit, scale, samples, baseline) {
  console.log(`\n${title}`);
  const base = samples.get(baseline);
  for (const [name, values] of samples) {
    const m = median(values);
    const iqr = ((quantile(values, 0.75) - quantile(values, 0.25)) / m) * 100;
    console.log(
      `  ${name.padEnd(38)} median ${fmt(m / scale, 2).padStart(9)} ${unit}/call, ` +
        `p10 ${fmt(quantile(values, 0.1) / scale, 2).padStart(9)}, IQR ${iqr.toFixed(1)} % of the median`,
    );
  }
  for (const [name, values] of samples) {
    if (name === baseline) continue;
    const paired = median(values.map((value, index) => value / base[index]));
    ratios.push(
      `ratio ${title.split(" (")[0]}: ${name} / ${baseline} = ${(median(values) / median(base)).toFixed(4)} ` +
        `(paired per round ${paired.toFixed(4)}; p10 ${(quantile(values, 0.1) / quantile(base, 0.1)).toFixed(4)})`,
    );
  }
}

/**
 * A loop compiled for one contender alone (its own call site, so no contender turns another's
 * polymorphic): `ops` awaited hits, nanoseconds per call.
 */
function cacheLoop(cache, keys, ops) {
  const run = new (async () => {}).constructor(
    "cache",
    "keys",
    `let hits = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < ${ops}; i++) if ((await cache.get(keys[i % ${CACHE_KEYS}])) !== undefined) hits++;
    const ns = Number(process.hrtime.bigint() - start) / ${ops};
    if (hits !== ${ops}) throw new Error("a hit path that missed");
    return ns;`,
  );
  return () => run(cache, keys);
}

async function cacheHits(telemetry) {
  const keys = Array.from({ length: CACHE_KEYS }, (_, i) => `tenant:${i}:settings`);
  const cache = createMemoryCache({ maxEntries: CACHE_KEYS * 2 });
  for (const [i, key] of keys.entries()) await cache.set(key, { id: i, plan: "pro" });
  const decorated = instrumentCache(cache);
  // The no-SDK comparison runs first and alone: once the SDK contender has run, the decorator's
  // methods carry feedback of the traced branch too, which no application with its SDK off has.
  report(
    `cache hit path (await get; ${fmt(CACHE_OPS, 0)} hits per round, ${CACHE_ROUNDS} rounds)`,
    "ns",
    1,
    await rounds(
      CACHE_ROUNDS,
      [
        { name: "cache-memory", loop: () => cacheLoop(cache, keys, CACHE_OPS) },
        { name: "cache-memory again (A/A control)", loop: () => cacheLoop(cache, keys, CACHE_OPS) },
        { name: "instrumented, no SDK", loop: () => cacheLoop(decorated, keys, CACHE_OPS) },
      ],
      20,
    ),
    "cache-memory",
  );
  const withSdk = instrumentCache(cache, { tracer: telemetry.tracer, meter: telemetry.meter });
  const sdkOps = Math.round(CACHE_OPS * SDK_SHARE);
  report(
    `cache hit path with an SDK (information; ${fmt(sdkOps, 0)} hits per round, ${SDK_ROUNDS} rounds)`,
    "ns",
    1,
    await rounds(
      SDK_ROUNDS,
      [
        { name: "cache-memory", loop: () => cacheLoop(cache, keys, sdkOps) },
        { name: "instrumented, SDK", loop: () => cacheLoop(withSdk, keys, sdkOps) },
      ],
      5,
    ),
    "cache-memory",
  );
  await cache.close();
}

function pointLoop(db, ops) {
  const run = new (async () => {}).constructor(
    "db",
    "sql",
    `const start = process.hrtime.bigint();
    for (let i = 0; i < ${ops}; i++) {
      const row = await db.queryOne(sql\`SELECT id, label FROM kv WHERE id = \${(i % 1000) + 1}\`);
      if (row === undefined) throw new Error("a point query that found nothing");
    }
    return Number(process.hrtime.bigint() - start) / ${ops};`,
  );
  return () => run(db, sql);
}

async function pointQueries(telemetry) {
  const schema = `bench_otel_${randomBytes(4).toString("hex")}`;
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
  const db = createPostgresDatabase({ connectionString: POSTGRES_URL, schema, poolSize: 1 });
  try {
    await db.execute(sql`CREATE TABLE kv (id INTEGER PRIMARY KEY, label TEXT NOT NULL)`);
    await db.execute(sql`INSERT INTO kv SELECT g, 'label ' || g FROM generate_series(1, 1000) g`);
    const decorated = instrumentSqlDatabase(db);
    report(
      `point query (queryOne by primary key over one connection; ${POINT_OPS} queries per round, ${POINT_ROUNDS} rounds)`,
      "µs",
      1e3,
      await rounds(
        POINT_ROUNDS,
        [
          { name: "adapter-postgres", loop: () => pointLoop(db, POINT_OPS) },
          { name: "adapter-postgres again (A/A control)", loop: () => pointLoop(db, POINT_OPS) },
          { name: "instrumented, no SDK", loop: () => pointLoop(decorated, POINT_OPS) },
        ],
        3,
      ),
      "adapter-postgres",
    );
    const withSdk = instrumentSqlDatabase(db, { tracer: telemetry.tracer, meter: telemetry.meter });
    report(
      `point query with an SDK (information; ${POINT_OPS} queries per round, ${SDK_ROUNDS} rounds)`,
      "µs",
      1e3,
      await rounds(
        SDK_ROUNDS,
        [
          { name: "adapter-postgres", loop: () => pointLoop(db, POINT_OPS) },
          { name: "instrumented, SDK", loop: () => pointLoop(withSdk, POINT_OPS) },
        ],
        2,
      ),
      "adapter-postgres",
    );
  } finally {
    await db.close();
    await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
    await admin.close();
  }
}

const telemetry = sdk();
console.log(`${new Date().toISOString()} node ${process.version}, load average ${load()}`);
try {
  if (ONLY === undefined || ONLY === "cache") await cacheHits(telemetry);
  if (ONLY === undefined || ONLY === "postgres") await pointQueries(telemetry);
} finally {
  await telemetry.shutdown();
}
console.log(`\nload average at the end ${load()}`);
for (const line of ratios) console.log(line);
