import { randomBytes } from "node:crypto";
import { createRedisCache } from "@proj/cache-redis";
import amqp from "amqplib";
import { createRabbitMqJobQueue } from "../dist/index.js";
const JOBS = 3000; const who = process.env.WHO;
const run = randomBytes(4).toString("hex");
const state = createRedisCache({ namespace: `enq1_${run}`, url: "redis://127.0.0.1:6379" });
const queue = createRabbitMqJobQueue({ state, prefix: `enq1${run}`, cancellation: false });
const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672", { noDelay: true });
const confirm = await connection.createConfirmChannel(); const admin = await connection.createChannel();
const raw = `rawenq1_${run}`; await admin.assertQueue(raw, { durable: true, arguments: { "x-queue-type": "quorum" } });
await queue.enqueue("q", { warm: 1 });
const payload = (n) => ({ report: "sales", tenant: "t-1", format: "xlsx", n });
const t0 = performance.now();
for (let n = 0; n < JOBS; n++) {
  if (who === "raw") await new Promise((res, rej) => confirm.publish("", raw, Buffer.from(JSON.stringify(payload(n))), { persistent: true, contentType: "application/json" }, (e) => e ? rej(e) : res()));
  else await queue.enqueue("q", payload(n));
}
console.log(`${who} ${(JOBS * 1000 / (performance.now() - t0)).toFixed(0)}/s`);
for (const n of [...queue.queueNames("q"), raw]) await admin.deleteQueue(n).catch(() => {});
await connection.close(); await queue.close(); await state.clear(); await state.close();
