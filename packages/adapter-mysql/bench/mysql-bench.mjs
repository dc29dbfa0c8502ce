// Adapter vs raw mysql2, side by side in one process, same server, same pool size: interleaved
// rounds, medians and spread, load average, ratios last.
// Run: pnpm --filter @proj/adapter-mysql build && pnpm --filter @proj/adapter-mysql bench
// MYSQL_URL (default mysql://root@127.0.0.1:3306) must allow CREATE DATABASE; the bench makes its
// own database and drops it at the end. BENCH_ONLY=select runs the point selects alone.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { sql } from "@proj/ports";
import { createPool } from "mysql2/promise";
import { createMysqlDatabase } from "../dist/index.js";

const URI = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const POOL_SIZE = 10;
// Many short rounds: on a shared machine the load changes within seconds, and the median of
// per-round ratios (each round runs both sides back to back) follows it best.
const ROUNDS = 2 * Math.ceil(Number(process.env.BENCH_ROUNDS ?? 20) / 2);
const POINT_OPS = {
  1: Number(process.env.BENCH_OPS_C1 ?? 1_000),
  16: Number(process.env.BENCH_OPS_C16 ?? 2_000),
};
const INSERT_OPS_PER_ROUND = 200;
const STREAM_ROWS = 1_000_000;
const BULK_ROWS = 100_000;
const ROW_BY_ROW_SAMPLE = 10_000;
const database = `mysql_bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
const admin = createPool({ uri: URI, connectionLimit: 1 });
await admin.query(`CREATE DATABASE \`${database}\``);

// Raw mysql2 as a user writes it: a promise pool and `execute`, the driver's defaults.
const raw = createPool({ uri: `${URI}/${database}`, connectionLimit: POOL_SIZE });
const db = createMysqlDatabase({ uri: URI, database, poolSize: POOL_SIZE });

const fmt = (value) => Math.round(value).toLocaleString("en-US");
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

function perSecond(count, ms) {
  return Math.round((count / ms) * 1000);
}

async function timed(action) {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

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
 * machine hits both sides alike.
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

function report(name, results, goal) {
  const r = { rate: summary(results.raw.rate), cpu: summary(results.raw.cpu) };
  const a = { rate: summary(results.ours.rate), cpu: summary(results.ours.cpu) };
  // Who runs second in a round has an edge or a handicap (connections warm or gone idle), so a
  // round's ratio is paired with the next round's, where the order is swapped: their geometric
  // mean cancels the order out.
  const perRound = results.ours.rate.map((rate, index) => rate / results.raw.rate[index]);
  const paired = median(
    perRound.flatMap((ratio, index) => (index % 2 === 0 ? [Math.sqrt(ratio * perRound[index + 1])] : [])),
  );
  if (process.env.BENCH_VERBOSE)
    console.log(`  per-round ratios ${perRound.map((r) => r.toFixed(2)).join(" ")}`);
  for (const [label, side] of [
    ["raw mysql2 execute", r],
    ["adapter           ", a],
  ]) {
    console.log(
      `${name} ${label} ${fmt(side.rate.median)} ops/s (spread ${side.rate.spread.toFixed(0)}%), ` +
        `${side.cpu.median.toFixed(1)} µs CPU/query (spread ${side.cpu.spread.toFixed(0)}%)`,
    );
  }
  console.log(`  load average ${load()}`);
  ratios.push(
    `ratio ${name} adapter/raw throughput = ${(a.rate.median / r.rate.median).toFixed(3)} (median of paired rounds ${paired.toFixed(3)}${goal ? `; goal >= ${goal}` : ""})`,
    `ratio ${name} adapter/raw CPU per query = ${(a.cpu.median / r.cpu.median).toFixed(3)}`,
  );
}

const POINT_SQL = "SELECT id, name, qty, active FROM items WHERE id = ?";

async function pointSelect(concurrency) {
  const ops = POINT_OPS[concurrency];
  const results = await interleave(ROUNDS, {
    raw: () => measure(ops, concurrency, (i) => raw.execute(POINT_SQL, [(i % 10_000) + 1])),
    ours: () =>
      measure(ops, concurrency, (i) =>
        db.queryOne(sql`SELECT id, name, qty, active FROM items WHERE id = ${(i % 10_000) + 1}`),
      ),
  });
  report(`point select c=${concurrency}`, results, 0.95);
}

try {
  await raw.query(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INTEGER NOT NULL, active BOOLEAN NOT NULL)",
  );
  await raw.query(
    "INSERT INTO items SELECT seq, CONCAT('item-', seq), seq % 100, seq % 2 FROM seq_1_to_10000",
  );
  await raw.query(
    "CREATE TABLE adapter_inserts (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INTEGER NOT NULL)",
  );
  await raw.query(
    "CREATE TABLE raw_inserts (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INTEGER NOT NULL)",
  );

  console.log(
    `${new Date().toISOString()} node ${process.version}, pool size ${POOL_SIZE} on both sides, ` +
      `${ROUNDS} interleaved rounds, order swapped every round (point select ${POINT_OPS[1]} ops at c=1, ${POINT_OPS[16]} at c=16); ` +
      `load average ${load()}`,
  );
  // Warm-up: both pools full, statements prepared, both code paths compiled.
  await measure(2_000, 16, (i) => raw.execute(POINT_SQL, [(i % 10_000) + 1]));
  await measure(2_000, 16, (i) =>
    db.queryOne(sql`SELECT id, name, qty, active FROM items WHERE id = ${(i % 10_000) + 1}`),
  );
  const [check] = await db.query(sql`SELECT id, name, qty, active FROM items WHERE id = ${2}`);
  if (check.active !== false) throw new Error(`active read as ${String(check.active)}, not false`);

  await pointSelect(1);
  await pointSelect(16);
  if (process.env.BENCH_ONLY === "select") {
    finish();
  } else {
    await theRest();
    finish();
  }
} finally {
  await db.close();
  await raw.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
}

function finish() {
  console.log(`load average at the end ${load()}`);
  for (const line of ratios) console.log(line);
}

async function theRest() {
  let nextId = 0;
  const inserts = await interleave(ROUNDS, {
    raw: () =>
      measure(INSERT_OPS_PER_ROUND, 1, () => {
        const id = nextId++;
        return raw.execute("INSERT INTO raw_inserts (id, name, qty) VALUES (?, ?, ?)", [
          id,
          `n-${id}`,
          id % 7,
        ]);
      }),
    ours: () =>
      measure(INSERT_OPS_PER_ROUND, 1, () => {
        const id = nextId++;
        return db.execute(
          sql`INSERT INTO adapter_inserts (id, name, qty) VALUES (${id}, ${`n-${id}`}, ${id % 7})`,
        );
      }),
  });
  report("single-row insert c=1", inserts);
  // the point-select ratios go last
  ratios.unshift(...ratios.splice(4, 2));

  // Streaming: peak RSS while 1,000,000 generated rows go through a for-await loop.
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  let streamed = 0;
  let checksum = 0;
  const streamMs = await timed(async () => {
    for await (const row of db.stream(
      sql`SELECT seq AS id, CONCAT('name-', seq, '-', REPEAT('x', 40)) AS name, seq % 1000 AS qty FROM seq_1_to_1000000`,
      { batchSize: 1_000 },
    )) {
      streamed += 1;
      checksum += Number(row.qty);
      if (streamed % 10_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  });
  clearInterval(sampler);
  if (streamed !== STREAM_ROWS) throw new Error(`streamed ${streamed} rows, expected ${STREAM_ROWS}`);
  const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
  console.log(
    `stream ${streamed} rows: ${perSecond(streamed, streamMs)} rows/s, RSS before ${mb(rssBefore)} MB, peak ${mb(peakRss)} MB (checksum ${checksum})`,
  );

  // Bulk insert: insertMany of 100,000 rows vs the same rows one INSERT at a time (in one
  // transaction, so both pay one commit; a sample of the rows, as row by row takes minutes).
  await raw.query(
    "CREATE TABLE bulk_many (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INTEGER NOT NULL)",
  );
  await raw.query(
    "CREATE TABLE bulk_single (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INTEGER NOT NULL)",
  );
  function* bulkRows(count) {
    for (let i = 1; i <= count; i += 1) yield [i, `bulk-${i}`, i % 13];
  }
  let inserted = 0;
  const manyMs = await timed(async () => {
    inserted = await db.insertMany("bulk_many", ["id", "name", "qty"], bulkRows(BULK_ROWS));
  });
  const singleMs = await timed(() =>
    db.transaction(async (tx) => {
      for (const [id, name, qty] of bulkRows(ROW_BY_ROW_SAMPLE))
        await tx.execute(sql`INSERT INTO bulk_single (id, name, qty) VALUES (${id}, ${name}, ${qty})`);
    }),
  );
  const manyRate = perSecond(inserted, manyMs);
  const singleRate = perSecond(ROW_BY_ROW_SAMPLE, singleMs);
  console.log(
    `bulk insert: insertMany ${inserted} rows in ${Math.round(manyMs)} ms (${manyRate} rows/s); row by row ${singleRate} rows/s (${ROW_BY_ROW_SAMPLE}-row sample)`,
  );
  ratios.unshift(
    `ratio stream peak RSS / 150 MB budget = ${(peakRss / (150 * 1024 * 1024)).toFixed(3)}`,
    `ratio insertMany/row-by-row = ${(manyRate / singleRate).toFixed(1)}x (goal >= 10x)`,
  );
}
