// Adapter vs raw mysql2, in one process, same server, same pool size.
// Run: pnpm --filter @proj/adapter-mysql build && pnpm --filter @proj/adapter-mysql bench
// MYSQL_URL (default mysql://root@127.0.0.1:3306) must allow CREATE DATABASE; the bench makes its
// own database and drops it at the end.
import { randomBytes } from "node:crypto";
import { sql } from "@proj/ports";
import { createPool } from "mysql2/promise";
import { createMysqlDatabase } from "../dist/index.js";

const URI = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const POOL_SIZE = 10;
const POINT_OPS = 20_000;
const INSERT_OPS = 20_000;
const STREAM_ROWS = 1_000_000;
const BULK_ROWS = 100_000;
const ROW_BY_ROW_SAMPLE = 10_000;
const database = `mysql_bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
const admin = createPool({ uri: URI, connectionLimit: 1 });
await admin.query(`CREATE DATABASE \`${database}\``);

const raw = createPool({ uri: `${URI}/${database}`, connectionLimit: POOL_SIZE, timezone: "Z" });
const db = createMysqlDatabase({ uri: URI, database, poolSize: POOL_SIZE });

function perSecond(count, ms) {
  return Math.round((count / ms) * 1000);
}

async function timed(action) {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

/**
 * Adapter and raw driver take turns operation by operation (swapping who goes first), so a burst
 * of load on the shared machine hits both alike. Prints throughput from the summed latencies and
 * the ratio of median latencies, which stalls of the loaded machine do not skew.
 */
async function compare(label, total, adapterOp, rawOp) {
  const adapterMs = [];
  const rawMs = [];
  const time = async (op, i, into) => {
    const started = performance.now();
    await op(i);
    into.push(performance.now() - started);
  };
  for (let i = 0; i < total; i += 1) {
    if (i % 2 === 0) {
      await time(adapterOp, i, adapterMs);
      await time(rawOp, i, rawMs);
    } else {
      await time(rawOp, i, rawMs);
      await time(adapterOp, i, adapterMs);
    }
  }
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const adapterOps = perSecond(total, sum(adapterMs));
  const rawOps = perSecond(total, sum(rawMs));
  const adapterMedian = quantile(adapterMs, 0.5);
  const rawMedian = quantile(rawMs, 0.5);
  console.log(
    `${label}: adapter ${adapterOps} ops/s (median ${adapterMedian.toFixed(3)} ms), raw mysql2 ${rawOps} ops/s (median ${rawMedian.toFixed(3)} ms), ${total} each`,
  );
  console.log(`ratio ${label} throughput adapter/raw = ${(adapterOps / rawOps).toFixed(3)}`);
  console.log(
    `ratio ${label} median latency raw/adapter = ${(rawMedian / adapterMedian).toFixed(3)} (overhead ${((adapterMedian / rawMedian - 1) * 100).toFixed(1)}%)`,
  );
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

  // Warm both pools: connections open and statements prepared.
  for (let id = 1; id <= 200; id += 1) {
    await db.queryOne(sql`SELECT id, name, qty, active FROM items WHERE id = ${id}`);
    await raw.execute("SELECT id, name, qty, active FROM items WHERE id = ?", [id]);
  }

  await compare(
    "point select",
    POINT_OPS,
    (i) => db.queryOne(sql`SELECT id, name, qty, active FROM items WHERE id = ${(i % 10_000) + 1}`),
    (i) => raw.execute("SELECT id, name, qty, active FROM items WHERE id = ?", [(i % 10_000) + 1]),
  );

  await compare(
    "single-row insert",
    INSERT_OPS,
    (i) => db.execute(sql`INSERT INTO adapter_inserts (id, name, qty) VALUES (${i}, ${`n-${i}`}, ${i % 7})`),
    (i) => raw.execute("INSERT INTO raw_inserts (id, name, qty) VALUES (?, ?, ?)", [i, `n-${i}`, i % 7]),
  );

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
  console.log(`ratio stream peak RSS / 150 MB budget = ${(peakRss / (150 * 1024 * 1024)).toFixed(3)}`);

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
  console.log(`ratio insertMany/row-by-row = ${(manyRate / singleRate).toFixed(1)}x`);
} finally {
  await db.close();
  await raw.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
}
