// The tiered cache against bentocache (memory L1 + Redis L2 + Redis bus), side by side in one
// process, interleaved rounds: `node bench/tiered.mjs` after `pnpm build` (REDIS_URL, ROUNDS).
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { loadavg } from "node:os";
import { createMemoryCache } from "@proj/cache-memory";
import { createRedisCache } from "@proj/cache-redis";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisBusDriver, redisDriver } from "bentocache/drivers/redis";
import { createRedisInvalidationBus, createTieredCache } from "../dist/index.js";

const URL_ = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const { hostname, port } = new URL(URL_);
const connection = { host: hostname, port: Number(port || 6379) };
// Even, so that each contender goes first in as many rounds as the other (see the loop).
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const AUTO_PIPELINING = process.env.AUTO_PIPELINING !== "0";
const KEYS = 1_000;
const L1_OPS = 200_000;
const L2_OPS = 20_000;
const L2_CONCURRENCY = 50;
const INVALIDATIONS = 200;
const namespace = `bench_tiered_${randomBytes(4).toString("hex")}`;
const value = { plan: "pro", seats: 25, features: ["sso", "audit", "export"], region: "eu-west" };
const key = (i) => `tenant:${i}`;

// ---- ours -------------------------------------------------------------------------------------
const ourEvents = new EventEmitter();
function tiered(l1Entries, onEvent) {
  return createTieredCache({
    l1: createMemoryCache({ maxEntries: l1Entries }),
    // Concurrent reads share socket writes, writes go at once (`pipelineReads` of @proj/cache-redis).
    l2: createRedisCache({ namespace, url: URL_, pipelineReads: AUTO_PIPELINING }),
    // Every invalidation goes through Redis, as between processes (no in-process shortcut).
    bus: createRedisInvalidationBus({ channel: namespace, url: URL_, localDelivery: false }),
    onEvent,
  });
}
const ourWriter = tiered(10_000);
const ourReader = tiered(10_000, (event) => {
  if (event.type === "invalidated") ourEvents.emit("received", event.invalidation);
});
const ourL2Reader = tiered(1); // an L1 of one entry: reading 1,000 keys in turn always misses it

// ---- bentocache -------------------------------------------------------------------------------
const bentoL2Connection = {
  ...connection,
  enableAutoPipelining: AUTO_PIPELINING,
  autoPipeliningIgnoredCommands: ["set", "getdel", "unlink", "scan", "quit"],
};
function bento(maxItems, emitter) {
  return new BentoCache({
    default: "tiered",
    prefix: `${namespace}_bento`,
    emitter,
    stores: {
      // bentocache's defaults (its L1 serialises values; `serialize: false` crashed on bus messages in 1.6.1).
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems }))
        // The same auto-pipelining as ours: reads only (ioredis options, which bentocache takes with
        // its connection), so neither side batches socket writes the other cannot.
        .useL2Layer(redisDriver({ connection: bentoL2Connection }))
        .useBus(redisBusDriver({ connection })),
    },
  });
}
const bentoEvents = new EventEmitter();
const bentoWriter = bento(10_000, new EventEmitter());
const bentoReader = bento(10_000, bentoEvents);
const bentoL2Reader = bento(1, new EventEmitter());

const contenders = {
  tiered: {
    set: (k, v) => ourWriter.set(k, v, { ttlMs: 600_000 }),
    l1Get: (k) => ourReader.get(k),
    l2Get: (k) => ourL2Reader.get(k),
    received: (k) => once(ourEvents, (inv) => inv.kind === "keys" && inv.keys.includes(k)),
  },
  bentocache: {
    set: (k, v) => bentoWriter.set({ key: k, value: v, ttl: "10m" }),
    l1Get: (k) => bentoReader.get({ key: k }),
    l2Get: (k) => bentoL2Reader.get({ key: k }),
    received: (k) => once(bentoEvents, (data) => data.message?.keys?.includes(k), "bus:message:received"),
  },
};

function once(emitter, matches, event = "received") {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error("no invalidation within 5 s"));
    }, 5_000);
    const listener = (data) => {
      if (!matches(data)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(performance.now());
    };
    emitter.on(event, listener);
  });
}

async function l1Hits(c) {
  for (let i = 0; i < KEYS; i++) await c.l1Get(key(i)); // warm L1
  const start = performance.now();
  for (let i = 0; i < L1_OPS; i++) await c.l1Get(key(i % KEYS));
  return (L1_OPS * 1000) / (performance.now() - start);
}

async function l2Hits(c) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: L2_CONCURRENCY }, async () => {
      while (next < L2_OPS) await c.l2Get(key(next++ % KEYS));
    }),
  );
  return (L2_OPS * 1000) / (performance.now() - start);
}

/** Median over INVALIDATIONS writes of: set() called in one instance → the other applied the invalidation. */
async function invalidationDelay(c, round) {
  const k = `inv:${round}`;
  await c.set(k, { n: 0 });
  await c.l1Get(k);
  const delays = [];
  for (let n = 1; n <= INVALIDATIONS; n++) {
    const received = c.received(k);
    const start = performance.now();
    await c.set(k, { n });
    delays.push((await received) - start);
    await c.l1Get(k); // back into the reader's L1
  }
  delays.sort((a, b) => a - b);
  return { p50: delays[Math.floor(delays.length / 2)], p99: delays[Math.floor(delays.length * 0.99)] };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  // An even count takes the mean of the two middle values, favouring neither side.
  return Number.isInteger(middle) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[Math.floor(middle)];
};
const spread = (xs) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
const spread2 = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
const fmt = (xs, digits = 0) =>
  `${median(xs).toFixed(digits).padStart(10)} (${digits === 0 ? spread(xs) : spread2(xs)})`;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

try {
  await new Promise((resolve) => setTimeout(resolve, 500)); // buses subscribe
  for (const c of Object.values(contenders)) for (let i = 0; i < KEYS; i++) await c.set(key(i), value);
  const results = {};
  for (const name of Object.keys(contenders)) results[name] = { l1: [], l2: [], p50: [], p99: [] };
  const loadBefore = load();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["tiered", "bentocache"] : ["bentocache", "tiered"];
    // Each measured block starts after the same idle pause, so that garbage collection and timers
    // left over from the block before (the other contender's, or another phase) do not land on
    // whoever comes next.
    for (const name of order) results[name].l1.push(await settle().then(() => l1Hits(contenders[name])));
    for (const name of order) results[name].l2.push(await settle().then(() => l2Hits(contenders[name])));
    for (const name of order) {
      await settle();
      const { p50, p99 } = await invalidationDelay(contenders[name], round);
      results[name].p50.push(p50);
      results[name].p99.push(p99);
    }
  }
  console.log(
    `node ${process.version}, ${ROUNDS} interleaved rounds, median (min–max); load average before: ${loadBefore}, after: ${load()}`,
  );
  console.log(
    `L1 hit: ${L1_OPS} sequential gets over ${KEYS} keys; L2 hit: ${L2_OPS} gets, ${L2_CONCURRENCY} in flight, L1 of one entry; invalidation: ${INVALIDATIONS} sets per round, set() called -> the other instance applied it`,
  );
  for (const name of Object.keys(contenders)) {
    const r = results[name];
    console.log(
      `${name.padEnd(11)} L1 hit ${fmt(r.l1)} ops/s   L2 hit ${fmt(r.l2)} ops/s   invalidation p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms`,
    );
  }
  const ours = results.tiered;
  const theirs = results.bentocache;
  // Each round's ratio pairs two runs made back to back, so load drifting between rounds cancels out.
  const paired = (a, b) => {
    const ratios = a.map((x, i) => x / b[i]);
    return `${median(ratios).toFixed(2)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
  };
  console.log("ratios: median of the per-round ratios (above 1: tiered better)");
  console.log(`ratio L1 hit ops/s, tiered / bentocache: ${paired(ours.l1, theirs.l1)}`);
  console.log(`ratio L2 hit ops/s, tiered / bentocache: ${paired(ours.l2, theirs.l2)}`);
  console.log(`ratio invalidation delay p50, bentocache / tiered: ${paired(theirs.p50, ours.p50)}`);
  console.log(`ratio invalidation delay p99, bentocache / tiered: ${paired(theirs.p99, ours.p99)}`);
} finally {
  await ourWriter.clear().catch(() => undefined);
  await Promise.all([ourWriter.close(), ourReader.close(), ourL2Reader.close()]);
  await bentoWriter.clear().catch(() => undefined);
  await Promise.all([
    bentoWriter.disconnectAll(),
    bentoReader.disconnectAll(),
    bentoL2Reader.disconnectAll(),
  ]);
}
