import { createRedisCache } from "@proj/cache-redis";
const ns = `probe_${Date.now()}`;
const value = { plan: "pro", seats: 25, features: ["sso", "audit", "export"], region: "eu-west" };
const l2 = createRedisCache({ namespace: ns, redis: process.env.AP ? { enableAutoPipelining: true } : {} });
for (let i = 0; i < 1000; i++) await l2.set(`k${i}`, { v: value, e: Date.now() + 600000 });
async function drive(op, n = 100000) { let next = 0; const s = performance.now(); await Promise.all(Array.from({ length: 50 }, async () => { while (next < n) await op(next++ % 1000); })); return Math.round(n * 1000 / (performance.now() - s)); }
console.log(await drive((i) => l2.get(`k${i}`)));
await l2.clear(); await l2.close();
