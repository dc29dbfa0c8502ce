import { createRedisCache } from "@proj/cache-redis";
const state = createRedisCache({ namespace: `sm_${Date.now()}`, url: "redis://127.0.0.1:6379" });
for (const n of [1, 11, 32]) {
  for (const mode of ["setMany", "set-each"]) {
    const calls = 2000; const entries = Array.from({ length: n }, (_, i) => ({ key: `jobs:end:q.abcdefghabcdefghijklmnopqrstuv${i}`, value: "done", ttlMs: 1209600000 }));
    const c0 = process.cpuUsage(); const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      if (mode === "setMany") await state.setMany(entries); else await Promise.all(entries.map((e) => state.set(e.key, e.value, { ttlMs: e.ttlMs })));
    }
    const c = process.cpuUsage(c0);
    console.log(`${mode} n=${n}: ${((performance.now()-t0)*1000/calls).toFixed(0)} us wall/call, CPU ${((c.user+c.system)/calls).toFixed(0)} us/call`);
  }
}
await state.clear(); await state.close();
