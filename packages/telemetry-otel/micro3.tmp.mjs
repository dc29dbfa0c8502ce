import { trace } from "@opentelemetry/api";
import { createMemoryCache } from "@proj/cache-memory";
import { instrumentCache } from "./dist/index.js";
const keys = Array.from({ length: 10000 }, (_, i) => `tenant:${i}:settings`);
const shared = createMemoryCache({ maxEntries: 20000 }); for (const k of keys) await shared.set(k, { a: 1 });
const proxy = trace.getTracerProvider();
const noop = proxy.getDelegate();
class Pass { #i; constructor(i) { this.#i = i; } get(k, o) { return this.#i.get(k, o); } }
class Gate { #on = false; #p = proxy; #n = noop; active() { if (this.#on) return true; const p = this.#p; if (p === undefined || p.getDelegate() === this.#n) return false; return true; } }
class WithGate { #i; #t; constructor(i) { this.#i = i; this.#t = new Gate(); } get(k, o) { if (!this.#t.active()) return this.#i.get(k, o); return this.#i.get(k, o); } }
class Flag { on = false; }
class WithFlag { #i; #t; constructor(i) { this.#i = i; this.#t = new Flag(); } get(k, o) { if (!this.#t.on) return this.#i.get(k, o); return this.#i.get(k, o); } }
const OPS = 20000;
const loop = (c) => { const f = new (async () => {}).constructor("cache", "keys", `let h=0; const s=process.hrtime.bigint(); for (let i=0;i<${OPS};i++) if ((await cache.get(keys[i%10000]))!==undefined) h++; return Number(process.hrtime.bigint()-s)/${OPS};`); return () => f(c, keys); };
const contenders = [
  ["plain", shared], ["plain2", shared], ["pass", new Pass(shared)], ["flag", new WithFlag(shared)], ["gate", new WithGate(shared)], ["inst", instrumentCache(shared)],
];
const res = new Map(contenders.map(([n]) => [n, []]));
let seed = 7; const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let e = 0; e < contenders.length; e++) {
  const order = [...contenders.slice(e), ...contenders.slice(0, e)];
  const compiled = order.map(([n, c]) => [n, loop(c)]);
  for (let w = 0; w < 20; w++) for (const [, r] of compiled) await r();
  for (let r = 0; r < 60; r++) for (const [n, run] of [...compiled].sort(() => rnd() - 0.5)) res.get(n).push(await run());
}
const q = (v, p) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length * p)]; };
const base = res.get("plain");
for (const [n, v] of res) console.log(n.padEnd(7), "p10", q(v, 0.1).toFixed(1), "med", q(v, 0.5).toFixed(1), "p10 ratio", (q(v, 0.1) / q(base, 0.1)).toFixed(4), "paired", q(v.map((x, i) => x / base[i]), 0.5).toFixed(4));
