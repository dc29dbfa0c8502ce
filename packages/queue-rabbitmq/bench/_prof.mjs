import { randomBytes } from "node:crypto";
import { createRedisCache } from "@proj/cache-redis";
import { createRabbitMqJobQueue } from "../dist/index.js";
const C = Number(process.env.C ?? 1);
const JOBS = Number(process.env.JOBS ?? 3000);
const run = randomBytes(4).toString("hex");
const state = createRedisCache({ namespace: `prof_${run}`, url: "redis://127.0.0.1:6379", ...(process.env.PIPE ? { redis: { enableAutoPipelining: true } } : {}) });
const queue = createRabbitMqJobQueue({ state, prefix: `prof${run}`, cancellation: process.env.NOCANCEL ? false : true });
const name = "q";
const waiting = new Map();
const w0 = queue.work(name, async () => undefined); await w0.close();
const worker = queue.work(name, async (job) => { const j = waiting.get(job.payload.n); waiting.delete(job.payload.n); j(); }, { concurrency: C });
import { execSync } from "node:child_process";
const rcpu = () => { const t = execSync("redis-cli info cpu").toString(); return Number(/used_cpu_sys:([\d.]+)/.exec(t)[1]) + Number(/used_cpu_user:([\d.]+)/.exec(t)[1]); };
const beam = () => { const pid = execSync("pgrep -f beam.smp").toString().trim().split("\n")[0]; const f = execSync(`cat /proc/${pid}/stat`).toString().split(" "); return (Number(f[13]) + Number(f[14])) / 100; };
const r0 = rcpu(); const b0 = beam();
let next = 0;
const t0 = performance.now(); const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: C }, async () => {
  while (next < JOBS) { const n = next++; const h = new Promise((r) => waiting.set(n, r)); await queue.enqueue(name, { report: "sales", tenant: "t-1", format: "xlsx", n }); await h; }
}));
const cpu = process.cpuUsage(cpu0);
await new Promise((r) => setTimeout(r, 50)); console.log(`redis ${((rcpu() - r0) * 1e6 / JOBS).toFixed(1)} us/job, beam ${((beam() - b0) * 1e6 / JOBS).toFixed(1)} us/job`);
console.log(`c=${C} ${(JOBS*1000/(performance.now()-t0)).toFixed(0)} jobs/s, CPU ${((cpu.user+cpu.system)/JOBS).toFixed(0)} us/job`);
console.log("batches", globalThis.__b, "entries", globalThis.__e); await worker.close();

await queue.close(); await state.clear(); await state.close();
