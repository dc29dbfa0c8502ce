import amqp from "amqplib";
const C = Number(process.env.C ?? 32), JOBS = Number(process.env.JOBS ?? 8000);
const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672", { noDelay: true });
const confirm = await connection.createConfirmChannel(); const admin = await connection.createChannel();
const variants = {
  plain: () => ({}),
  mandatory: () => ({ mandatory: true }),
  idtype: (t) => ({ messageId: `p${t}`, type: `job1 1 3 1765000000000 q.abcdefghabcdefghijklmnopqrstuv` }),
  all: (t) => ({ mandatory: true, messageId: `p${t}`, type: `job1 1 3 1765000000000 q.abcdefghabcdefghijklmnopqrstuv` }),
};
const res = {};
for (let round = 0; round < 4; round++) for (const [label, props] of Object.entries(variants)) {
  const name = `rawenq_${Math.random().toString(36).slice(2)}`;
  await admin.assertQueue(name, { durable: true, arguments: { "x-queue-type": "quorum" } });
  let next = 0, tag = 0; const t0 = performance.now(); const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: C }, async () => { while (next < JOBS) { const n = next++;
    await new Promise((res, rej) => confirm.publish("", name, Buffer.from(JSON.stringify({ report: "sales", tenant: "t-1", format: "xlsx", n })), { persistent: true, contentType: "application/json", ...props(++tag) }, (e) => e ? rej(e) : res())); } }));
  const c = process.cpuUsage(c0);
  (res[label] ??= []).push(`${(JOBS*1000/(performance.now()-t0)).toFixed(0)}/${((c.user+c.system)/JOBS).toFixed(0)}us`);
  await admin.deleteQueue(name);
}
console.log(res);
await connection.close();
