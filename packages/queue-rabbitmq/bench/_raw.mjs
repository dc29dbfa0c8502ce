import amqp from "amqplib";
const C = Number(process.env.C ?? 1); const JOBS = Number(process.env.JOBS ?? 3000);
const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672", { noDelay: true });
const confirm = await connection.createConfirmChannel(); const admin = await connection.createChannel();
async function once(label, props) {
  const name = `rawprof_${Math.random().toString(36).slice(2)}`;
  await admin.assertQueue(name, { durable: true, arguments: { "x-queue-type": "quorum" } });
  const ch = await connection.createChannel(); await ch.prefetch(C);
  const waiting = new Map();
  await ch.consume(name, (m) => { const p = JSON.parse(m.content.toString("utf8")); const r = waiting.get(p.n); waiting.delete(p.n); r(); ch.ack(m); });
  let next = 0; let tag = 0;
  const t0 = performance.now(); const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: C }, async () => { while (next < JOBS) { const n = next++; const h = new Promise((r) => waiting.set(n, r));
    await new Promise((res, rej) => confirm.publish("", name, Buffer.from(JSON.stringify({ report: "sales", tenant: "t-1", format: "xlsx", n })), { persistent: true, contentType: "application/json", ...props(++tag) }, (e) => e ? rej(e) : res()));
    await h; } }));
  const cpu = process.cpuUsage(cpu0);
  console.log(`${label} c=${C} ${(JOBS*1000/(performance.now()-t0)).toFixed(0)} jobs/s CPU ${((cpu.user+cpu.system)/JOBS).toFixed(0)} us/job`);
  await ch.close(); await admin.deleteQueue(name);
}
for (let i = 0; i < (process.env.ONCE ? 1 : 2); i++) {
  if (!process.env.ONLY_ALL) await once("plain", () => ({}));
  if (!process.env.ONCE || process.env.ONLY_ALL) await once("mandatory+id+type", (t) => ({ mandatory: true, messageId: `p${t}`, type: `job1 1 3 1765000000000 q.abcdefghabcdefghijklmnopqrstuv` }));
}
await connection.close();
