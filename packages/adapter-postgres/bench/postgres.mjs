// Adapter vs raw `pg`, side by side in one process, interleaved rounds, medians and spread, ratios last.
// Build first: pnpm --filter @proj/adapter-postgres build
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { sql } from "@proj/ports";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { createPostgresDatabase } from "../dist/index.js";

const URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const POOL_SIZE = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const POINT_OPS = {
  1: Number(process.env.BENCH_OPS_C1 ?? 3_000),
  16: Number(process.env.BENCH_OPS_C16 ?? 6_000),
};
const BULK_ROWS = 100_000;
const BULK_ROUNDS = Number(process.env.BENCH_BULK_ROUNDS ?? 5);
const STREAM_ROWS = 1_000_000;
const schema = `bench_${randomBytes(4).toString("hex")}`;

const raw = new pg.Pool({ connectionString: URL, max: POOL_SIZE, options: `-c search_path=${schema}` });
const db = createPostgresDatabase({ connectionString: URL, schema, poolSize: POOL_SIZE });

const fmt = (value) => Math.round(value).toLocaleString("en-US");
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median, and the spread as (max - min) / median, in percent. */
function summary(values) {
  const m = median(values);
  return { median: m, spread: ((Math.max(...values) - Math.min(...values)) / m) * 100 };
}

/** Runs `count` operations, `concurrency` at a time; wall-clock rate and this process's CPU per operation. */
async function measure(count, concurrency, operation) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await operation(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { rate: count / seconds, cpuMicros: (used.user + used.system) / count };
}

/**
 * Interleaved rounds (raw first on even rounds, ours first on odd ones), so a burst of load on the
 * machine hits both sides alike. Returns per-side medians and the paired per-round ratios.
 */
async function interleave(rounds, sides) {
  const results = Object.fromEntries(Object.keys(sides).map((side) => [side, { rate: [], cpu: [] }]));
  const names = Object.keys(sides);
  for (let round = 0; round < rounds; round += 1) {
    for (const side of round % 2 === 0 ? names : [...names].reverse()) {
      const { rate, cpuMicros } = await sides[side]();
      results[side].rate.push(rate);
      results[side].cpu.push(cpuMicros);
    }
  }
  return results;
}

const ratios = [];

function report(name, unit, cpuUnit, cpuScale, results) {
  const r = { rate: summary(results.raw.rate), cpu: summary(results.raw.cpu) };
  const a = { rate: summary(results.ours.rate), cpu: summary(results.ours.cpu) };
  const paired = median(results.ours.rate.map((rate, index) => rate / results.raw.rate[index]));
  for (const [label, side] of [
    ["raw   ", r],
    ["ours  ", a],
  ]) {
    console.log(
      `${name} ${label} ${fmt(side.rate.median)} ${unit} (spread ${side.rate.spread.toFixed(0)}%), ` +
        `${(side.cpu.median * cpuScale).toFixed(cpuScale === 1 ? 1 : 3)} ${cpuUnit} (spread ${side.cpu.spread.toFixed(0)}%)`,
    );
  }
  ratios.push(
    `ratio ${name} ours/raw throughput = ${(a.rate.median / r.rate.median).toFixed(3)} (paired per round ${paired.toFixed(3)})`,
    `ratio ${name} ours/raw CPU = ${(a.cpu.median / r.cpu.median).toFixed(3)}`,
  );
}

async function pointSelect(concurrency) {
  const ops = POINT_OPS[concurrency];
  const results = await interleave(ROUNDS, {
    raw: () =>
      measure(ops, concurrency, (i) => raw.query("SELECT id, label FROM kv WHERE id = $1", [(i % 1000) + 1])),
    ours: () =>
      measure(ops, concurrency, (i) =>
        db.queryOne(sql`SELECT id, label FROM kv WHERE id = ${(i % 1000) + 1}`),
      ),
  });
  report(`point select c=${concurrency}`, "ops/s", "µs CPU/query", 1, results);
}

const bulkRows = Array.from({ length: BULK_ROWS }, (_, index) => [index, `label ${index}`, index % 2 === 0]);

/** What a user writes by hand: a text encoder for exactly these columns, 1,000 rows per chunk. */
function* handEncoded(rows) {
  let chunk = "";
  let inChunk = 0;
  for (const [id, label, flag] of rows) {
    chunk += `${id}\t${label}\t${flag ? "t" : "f"}\n`;
    inChunk += 1;
    if (inChunk === 1_000) {
      yield chunk;
      chunk = "";
      inChunk = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function timed(operation) {
  await raw.query("TRUNCATE bulk");
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await operation();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { rate: BULK_ROWS / seconds, cpuMicros: used.user + used.system };
}

async function bulkInsert() {
  const results = await interleave(BULK_ROUNDS, {
    raw: () =>
      timed(async () => {
        const client = await raw.connect();
        try {
          const copy = client.query(copyFrom("COPY bulk (id, label, flag) FROM STDIN"));
          await pipeline(Readable.from(handEncoded(bulkRows), { objectMode: false }), copy);
        } finally {
          client.release();
        }
      }),
    ours: () => timed(() => db.insertMany("bulk", ["id", "label", "flag"], bulkRows)),
  });
  const { rows } = await raw.query("SELECT count(*)::int AS n FROM bulk");
  if (rows[0].n !== BULK_ROWS) throw new Error(`bulk: ${rows[0].n} rows instead of ${BULK_ROWS}`);
  report(`insertMany ${fmt(BULK_ROWS)} rows vs COPY`, "rows/s", "s CPU", 1e-6, results);
}

async function streamPeakRss() {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const started = Date.now();
  let rows = 0;
  for await (const row of db.stream(
    sql`SELECT g AS id, md5(g::text) AS label, now() AS at FROM generate_series(1, ${STREAM_ROWS}) g`,
    { batchSize: 1_000 },
  )) {
    rows += row.id > 0 ? 1 : 0;
  }
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `stream ${fmt(rows)} rows in ${seconds.toFixed(1)} s (${fmt(rows / seconds)} rows/s), peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`,
  );
}

try {
  await raw.query(`CREATE SCHEMA ${schema}`);
  await raw.query("CREATE TABLE kv (id INTEGER PRIMARY KEY, label TEXT NOT NULL)");
  await raw.query("INSERT INTO kv SELECT g, 'label ' || g FROM generate_series(1, 1000) g");
  await raw.query("CREATE TABLE bulk (id INTEGER PRIMARY KEY, label TEXT NOT NULL, flag BOOLEAN)");
  console.log(
    `${new Date().toISOString()} node ${process.version}, pool size ${POOL_SIZE} on both sides, ` +
      `${ROUNDS} interleaved rounds (point select ${POINT_OPS[1]} ops at c=1, ${POINT_OPS[16]} at c=16), ` +
      `${BULK_ROUNDS} for the bulk insert; load average ${load()}`,
  );
  // Warm-up: both pools full, both code paths compiled.
  await measure(2_000, 16, (i) => raw.query("SELECT id, label FROM kv WHERE id = $1", [(i % 1000) + 1]));
  await measure(2_000, 16, (i) => db.queryOne(sql`SELECT id, label FROM kv WHERE id = ${(i % 1000) + 1}`));

  if (process.env.BENCH_ONLY !== "bulk") {
    await pointSelect(1);
    await pointSelect(16);
  }
  if (process.env.BENCH_ONLY !== "select") await bulkInsert();
  if (process.env.BENCH_ONLY === undefined) await streamPeakRss();
  console.log(`load average at the end ${load()}`);
  for (const line of ratios) console.log(line);
} finally {
  await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.close();
  await raw.end();
}
