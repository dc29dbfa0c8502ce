import { randomBytes } from "node:crypto";
import { createRedisCache } from "@proj/cache-redis";
import amqp from "amqplib";
import { createRabbitMqJobQueue, jobMessageType } from "../dist/index.js";
const C = 1, JOBS = 2000;
const run = randomBytes(4).toString("hex");
const state = createRedisCache({ namespace: `split_${run}`, url: "redis://127.0.0.1:6379" });
const queue = createRabbitMqJobQueue({ state, prefix: `split${run}`, cancellation: false });
const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672", { noDelay: true });
const confirm = await connection.createConfirmChannel(); const admin = await connection.createChannel();
const w0 = queue.work("q", async () => undefined); await w0.close();
const main = queue.names.main("q");
const payload = (n) => ({ report: "sales", tenant: "t-1", format: "xlsx", n });
const waiting = new Map();
let idn = 0;
const rawPublish = (n) => new Promise((res, rej) => confirm.publish("", main, Buffer.from(JSON.stringify(payload(n))), { persistent: true, contentType: "application/json", type: jobMessageType({ id: `q.AAAAAAAA${String(idn++).padStart(22, "B")}`, attempt: 1, maxAttempts: 3, dueAt: Date.now(), keyHash: undefined }) }, (e) => e ? rej(e) : res()));
async function loop(label, enqueue) {
  let next = 0; const t0 = performance.now(); const c0 = process.cpuUsage();
  while (next < JOBS) { const n = next++; const h = new Promise((r) => waiting.set(n, r)); await enqueue(n); await h; }
  const c = process.cpuUsage(c0);
  return `${label} ${(JOBS * 1000 / (performance.now() - t0)).toFixed(0)}/s ${((c.user + c.system) / JOBS).toFixed(0)}us`;
}
const out = [];
for (let round = 0; round < 3; round++) {
  // ours -> ours
  let w = queue.work("q", async (job) => { const r = waiting.get(job.payload.n); waiting.delete(job.payload.n); r(); });
  out.push(await loop("ours->ours", (n) => queue.enqueue("q", payload(n))));
  out.push(await loop("raw->ours ", (n) => rawPublish(n)));
  await w.close();
  // raw consumer
  const ch = await connection.createChannel(); await ch.prefetch(1);
  const { consumerTag } = await ch.consume(main, (m) => { const p = JSON.parse(m.content.toString("utf8")); const r = waiting.get(p.n); waiting.delete(p.n); r(); ch.ack(m); });
  out.push(await loop("ours->raw ", (n) => queue.enqueue("q", payload(n))));
  out.push(await loop("raw->raw  ", (n) => rawPublish(n)));
  await ch.cancel(consumerTag); await ch.close();
}
console.log(out.join("\n"));
for (const n of queue.queueNames("q")) await admin.deleteQueue(n).catch(() => {});
await connection.close(); await queue.close(); await state.clear(); await state.close();
