// One side of bench/instructions.mjs: warms the cache hit path up, then runs `ops` awaited hits.
// Run by the parent under callgrind; prints nothing.
import { createMemoryCache } from "@proj/cache-memory";
import { instrumentCache } from "../dist/index.js";

const [side, opsText] = process.argv.slice(2);
const keys = Array.from({ length: 1_000 }, (_, i) => `tenant:${i}:settings`);
const inner = createMemoryCache({ maxEntries: 2_000 });
for (const key of keys) await inner.set(key, { plan: "pro" });
const cache = side === "instrumented" ? instrumentCache(inner) : inner;
const hits = new (async () => {}).constructor(
  "cache",
  "keys",
  "ops",
  `let found = 0;
  for (let i = 0; i < ops; i++) if ((await cache.get(keys[i % 1000])) !== undefined) found++;
  if (found !== ops) throw new Error("a hit path that missed");`,
);
await hits(cache, keys, 200_000);
await hits(cache, keys, Number(opsText));
