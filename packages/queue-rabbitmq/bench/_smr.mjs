import { createRedisCache } from "@proj/cache-redis";
const state = createRedisCache({ namespace: `smr_${Date.now()}`, url: "redis://127.0.0.1:6379" });
const n = 136, calls = 300;
let k = 0;
for (let i = 0; i < calls; i++) await state.setMany(Array.from({ length: n }, () => ({ key: `jobs:end:q.abcdefghabcdefghijklmnopqrstu${k++}`, value: "done", ttlMs: 1209600000 })));
await state.clear(); await state.close();
