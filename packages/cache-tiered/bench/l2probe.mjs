import { createMemoryCache } from "@proj/cache-memory";
import { createRedisCache } from "@proj/cache-redis";
import { Redis } from "ioredis";
import { createRedisInvalidationBus, createTieredCache } from "../dist/index.js";
const ns = `probe_${Date.now()}`;
const value = { plan: "pro", seats: 25, features: ["sso", "audit", "export"], region: "eu-west" };
const l2 = createRedisCache({ namespace: ns });
const raw = new Redis();
const t = createTieredCache({ l1: createMemoryCache({ maxEntries: 1 }), l2: createRedisCache({ namespace: ns }), bus: createRedisInvalidationBus({ channel: ns }) });
await new Promise(r => setTimeout(r, 300));
for (let i = 0; i < 1000; i++) await t.set(`k${i}`, value, { ttlMs: 600000 });
async function drive(op, n = 20000) { let next = 0; const s = performance.now(); await Promise.all(Array.from({ length: 50 }, async () => { while (next < n) await op(next++ % 1000); })); return Math.round(n * 1000 / (performance.now() - s)); }
for (let r = 0; r < 3; r++) {
  console.log("raw GET+parse", await drive((i) => raw.get(`${ns}:k${i}`).then(JSON.parse)),
    "cache-redis get", await drive((i) => l2.get(`k${i}`)),
    "tiered L2 get", await drive((i) => t.get(`k${i}`)));
}
await t.clear(); await t.close(); await l2.close(); raw.disconnect();
