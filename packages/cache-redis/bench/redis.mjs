// The adapter against raw ioredis on the same server, in one process: node bench/redis.mjs (after `pnpm build`).
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createRedisCache } from "../dist/index.js";

const URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const OPS = 20_000;
const CONCURRENCY = 50;
const KEYS = 1_000;
const namespace = `bench_${randomBytes(4).toString("hex")}`;
const value = { plan: "pro", seats: 25, features: ["sso", "audit", "export"], region: "eu-west" };

const raw = new Redis(URL);
const cache = createRedisCache({ namespace, url: URL });

/** Runs `op(i)` OPS times with CONCURRENCY in flight; returns ops/s. */
async function drive(op) {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < OPS) await op(next++ % KEYS);
    }),
  );
  return (OPS * 1e9) / Number(process.hrtime.bigint() - start);
}

const contenders = [
  ["raw ioredis GET + JSON.parse", (i) => raw.get(`${namespace}:k${i}`).then((t) => JSON.parse(t))],
  ["cache-redis get", (i) => cache.get(`k${i}`)],
  [
    "raw ioredis SET PX + JSON.stringify",
    (i) => raw.set(`${namespace}:k${i}`, JSON.stringify(value), "PX", 60_000),
  ],
  ["cache-redis set", (i) => cache.set(`k${i}`, value, { ttlMs: 60_000 })],
  ["cache-redis getOrSet (hit)", (i) => cache.getOrSet(`k${i}`, async () => value)],
];

try {
  for (let i = 0; i < KEYS; i++) await cache.set(`k${i}`, value);
  const results = new Map(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < 3; round++) {
    for (const [name, op] of contenders) results.get(name).push(await drive(op));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[1];
  console.log(
    `${OPS} ops per run, ${CONCURRENCY} in flight, ${KEYS} keys, median of 3 rounds, ${URL.replace(/\/\/.*@/, "//")}`,
  );
  for (const [name] of contenders)
    console.log(`${name.padEnd(38)} ${Math.round(median(results.get(name)))} ops/s`);
  const ratio = (a, b) => (median(results.get(a)) / median(results.get(b))).toFixed(2);
  console.log(`ratio get / raw GET: ${ratio("cache-redis get", "raw ioredis GET + JSON.parse")}`);
  console.log(`ratio set / raw SET: ${ratio("cache-redis set", "raw ioredis SET PX + JSON.stringify")}`);
  console.log(
    `ratio getOrSet hit / raw GET: ${ratio("cache-redis getOrSet (hit)", "raw ioredis GET + JSON.parse")}`,
  );
} finally {
  await cache.clear();
  await cache.close();
  await raw.quit();
}
