// Adapter vs raw `pg`, in one process, same pool size. Build first: pnpm --filter @proj/adapter-postgres build
import { randomBytes } from "node:crypto";
import { sql } from "@proj/ports";
import pg from "pg";
import { createPostgresDatabase } from "../dist/index.js";

const URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const POOL_SIZE = 8;
const POINT_OPS = 20_000;
const STREAM_ROWS = 1_000_000;
const BULK_ROWS = 100_000;
const ROUNDS = 5;
const schema = `bench_${randomBytes(4).toString("hex")}`;

const raw = new pg.Pool({ connectionString: URL, max: POOL_SIZE, options: `-c search_path=${schema}` });
const db = createPostgresDatabase({ connectionString: URL, schema, poolSize: POOL_SIZE });

/**
 * Runs `count` operations, POOL_SIZE at a time. Returns ops/s, and this process's CPU time per
 * operation: on a loaded machine the wall clock is noisy, the CPU the client spends is less so.
 */
async function measure(count, operation) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: POOL_SIZE }, async () => {
      while (next < count) await operation(next++);
    }),
  );
  const opsPerSecond = count / (Number(process.hrtime.bigint() - started) / 1e9);
  const used = process.cpuUsage(cpu);
  return { opsPerSecond, cpuMicros: (used.user + used.system) / count };
}

const fmt = (value) => Math.round(value).toLocaleString("en-US");

async function compare(name, rawOperation, adapterOperation, reset) {
  // Interleaved rounds, best of each, so a burst of load on the machine hits both sides alike.
  const best = {
    raw: { opsPerSecond: 0, cpuMicros: Infinity },
    adapter: { opsPerSecond: 0, cpuMicros: Infinity },
  };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [side, operation] of [
      ["raw", rawOperation],
      ["adapter", adapterOperation],
    ]) {
      await reset?.();
      const result = await measure(POINT_OPS, operation);
      best[side].opsPerSecond = Math.max(best[side].opsPerSecond, result.opsPerSecond);
      best[side].cpuMicros = Math.min(best[side].cpuMicros, result.cpuMicros);
    }
  }
  const { raw: r, adapter: a } = best;
  console.log(
    `${name}: raw pg ${fmt(r.opsPerSecond)} ops/s (${r.cpuMicros.toFixed(0)} µs CPU/op), adapter ${fmt(a.opsPerSecond)} ops/s (${a.cpuMicros.toFixed(0)} µs CPU/op)`,
  );
  console.log(
    `ratio ${name} adapter/raw ops/s = ${(a.opsPerSecond / r.opsPerSecond).toFixed(3)} (overhead ${((1 - a.opsPerSecond / r.opsPerSecond) * 100).toFixed(1)}%)`,
  );
  console.log(`ratio ${name} adapter/raw CPU per op = ${(a.cpuMicros / r.cpuMicros).toFixed(3)}`);
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
    if (rows % 50_000 === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `stream ${fmt(rows)} rows in ${seconds.toFixed(1)} s (${fmt(rows / seconds)} rows/s), peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`,
  );
}

async function bulkInsert() {
  const rows = Array.from({ length: BULK_ROWS }, (_, index) => [index, `label ${index}`, index % 2 === 0]);
  await db.execute(sql`TRUNCATE bulk`);
  let started = Date.now();
  await db.insertMany("bulk", ["id", "label", "flag"], rows);
  const copySeconds = (Date.now() - started) / 1000;
  await db.execute(sql`TRUNCATE bulk`);
  started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: POOL_SIZE }, async () => {
      while (next < BULK_ROWS) {
        const [id, label, flag] = rows[next++];
        await db.execute(sql`INSERT INTO bulk (id, label, flag) VALUES (${id}, ${label}, ${flag})`);
      }
    }),
  );
  const rowSeconds = (Date.now() - started) / 1000;
  console.log(
    `bulk insert ${fmt(BULK_ROWS)} rows: insertMany (COPY) ${copySeconds.toFixed(2)} s, row-by-row (${POOL_SIZE} at a time) ${rowSeconds.toFixed(2)} s`,
  );
  console.log(`ratio bulk insertMany/row-by-row speed = ${(rowSeconds / copySeconds).toFixed(1)}x`);
}

try {
  await raw.query(`CREATE SCHEMA ${schema}`);
  await raw.query("CREATE TABLE kv (id INTEGER PRIMARY KEY, label TEXT NOT NULL)");
  await raw.query("INSERT INTO kv SELECT g, 'label ' || g FROM generate_series(1, 1000) g");
  await raw.query("CREATE TABLE ins (id INTEGER PRIMARY KEY, label TEXT NOT NULL)");
  await raw.query("CREATE TABLE bulk (id INTEGER PRIMARY KEY, label TEXT NOT NULL, flag BOOLEAN)");
  console.log(
    `node ${process.version}, pool size ${POOL_SIZE}, ${POINT_OPS} ops per round, best of ${ROUNDS} interleaved rounds`,
  );

  await streamPeakRss();
  await compare(
    "point select",
    (i) => raw.query("SELECT id, label FROM kv WHERE id = $1", [(i % 1000) + 1]),
    (i) => db.queryOne(sql`SELECT id, label FROM kv WHERE id = ${(i % 1000) + 1}`),
  );
  await compare(
    "single-row insert",
    (i) => raw.query("INSERT INTO ins (id, label) VALUES ($1, $2)", [i, "x"]),
    (i) => db.execute(sql`INSERT INTO ins (id, label) VALUES (${i}, ${"x"})`),
    () => raw.query("TRUNCATE ins"),
  );
  await bulkInsert();
} finally {
  await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.close();
  await raw.end();
}
