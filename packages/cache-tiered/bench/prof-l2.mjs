import { createMemoryCache } from "@proj/cache-memory";
import { createRedisCache } from "@proj/cache-redis";
import { createRedisInvalidationBus, createTieredCache } from "../dist/index.js";

const ns = `prof_${Date.now()}`;
const value = { plan: "pro", seats: 25, features: ["sso", "audit", "export"], region: "eu-west" };
const t = createTieredCache({
  l1: createMemoryCache({ maxEntries: 1 }),
  l2: createRedisCache({ namespace: ns }),
  bus: createRedisInvalidationBus({ channel: ns }),
});
await new Promise((r) => setTimeout(r, 300));
for (let i = 0; i < 1000; i++) await t.set(`k${i}`, value, { ttlMs: 600000 });
let next = 0;
const N = 100000;
const s = performance.now();
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (next < N) await t.get(`k${next++ % 1000}`);
  }),
);
console.log(Math.round((N * 1000) / (performance.now() - s)));
await t.clear();
await t.close();
