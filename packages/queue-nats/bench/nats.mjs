// The adapter against the NATS JavaScript client used directly (JetStream publish + pull consume),
// on the same server, in one process, interleaved rounds: node bench/nats.mjs (after `pnpm build`).
// ROUNDS=7 for more rounds, ONLY=e2e or ONLY=enqueue for one kind, NATS_SERVERS=host:port for another server.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createNatsJobQueue } from "../dist/index.js";

const SERVERS = process.env.NATS_SERVERS ?? "127.0.0.1:4222";
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const run = randomBytes(4).toString("hex");
const NAMESPACE = `bench-${run}`;
const payload = { tenant: "t-42", report: "monthly-usage", month: "2024-05", format: "xlsx", rows: 1200 };
/** Both contenders' connections: the adapter's default, given to the raw client too. */
const CONNECTION = { servers: SERVERS, noAsyncTraces: true };

/**
 * What is timed. "enqueue": N enqueues, `concurrency` in flight. "end-to-end": a closed loop of
 * `concurrency` jobs in flight, each enqueued, handled by a worker of that concurrency, and counted
 * when its handler has finished; latency is enqueue start → handler done.
 */
const ALL_SCENARIOS = [
  { name: "enqueue, 1 in flight", kind: "enqueue", concurrency: 1, jobs: 2_000 },
  { name: "enqueue, 32 in flight", kind: "enqueue", concurrency: 32, jobs: 10_000 },
  { name: "end-to-end, concurrency 1", kind: "e2e", concurrency: 1, jobs: 1_000 },
  { name: "end-to-end, concurrency 32", kind: "e2e", concurrency: 32, jobs: 10_000 },
];
/** ONLY=e2e (or enqueue) runs the scenarios of that kind alone. */
const SCENARIOS = ALL_SCENARIOS.filter((scenario) => !process.env.ONLY || scenario.kind === process.env.ONLY);

let queueSeq = 0;

/** The NATS client used directly: what a user writes for a work queue without the adapter. */
async function rawClient() {
  const nc = await connect(CONNECTION);
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const streams = [];
  return {
    name: "NATS client directly",
    async queue() {
      const n = queueSeq++;
      const stream = `benchraw_${run}_${n}`;
      const subject = `benchraw.${run}.${n}`;
      await jsm.streams.add({ name: stream, subjects: [subject], retention: RetentionPolicy.Workqueue });
      await jsm.consumers.add(stream, {
        durable_name: "workers",
        ack_policy: AckPolicy.Explicit,
        ack_wait: 30e9,
      });
      streams.push(stream);
      return {
        enqueue: (data) => js.publish(subject, JSON.stringify(data)),
        async work(concurrency, onJob) {
          const consumer = await js.consumers.get(stream, "workers");
          // The callback form: each message handed over as it arrives, no async iterator between.
          const messages = await consumer.consume({
            max_messages: concurrency,
            callback: (msg) => {
              void (async () => {
                await onJob(msg.json());
                msg.ack();
              })();
            },
          });
          return () => messages.close();
        },
      };
    },
    async close() {
      for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close();
    },
  };
}

function adapter() {
  const jobs = createNatsJobQueue({ servers: SERVERS, namespace: NAMESPACE });
  const queues = [];
  return {
    name: "queue-nats",
    async queue() {
      const name = `q${queueSeq++}`;
      queues.push(name);
      // Make the queue's stream before timing (the first enqueue would make it).
      await jobs.enqueue(name, null).then((job) => jobs.cancel(job.id));
      return {
        enqueue: (data) => jobs.enqueue(name, data),
        async work(concurrency, onJob) {
          const worker = jobs.work(name, (job) => onJob(job.payload), { concurrency });
          return () => worker.close();
        },
      };
    },
    async close() {
      for (const name of queues) await jobs.deleteQueue(name).catch(() => undefined);
      await jobs.close();
    },
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function enqueueRun(queue, scenario) {
  const latencies = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: scenario.concurrency }, async () => {
      while (next < scenario.jobs) {
        next += 1;
        const began = performance.now();
        await queue.enqueue(payload);
        latencies.push(performance.now() - began);
      }
    }),
  );
  return { seconds: (performance.now() - start) / 1000, latencies };
}

async function endToEndRun(queue, scenario) {
  const latencies = [];
  const waiting = new Map();
  const stop = await queue.work(scenario.concurrency, async (data) => {
    waiting.get(data.n)?.();
  });
  // One job through first, untimed: the worker is up and has asked for jobs.
  const warm = new Promise((resolve) => waiting.set(-1, resolve));
  await queue.enqueue({ ...payload, n: -1 });
  await warm;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: scenario.concurrency }, async () => {
      while (next < scenario.jobs) {
        const n = next++;
        const began = performance.now();
        const done = new Promise((resolve) => waiting.set(n, resolve));
        await queue.enqueue({ ...payload, n });
        await done;
        waiting.delete(n);
        latencies.push(performance.now() - began);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await stop();
  return { seconds, latencies };
}

async function measure(contender, scenario) {
  const queue = await contender.queue();
  const { seconds, latencies } =
    scenario.kind === "enqueue" ? await enqueueRun(queue, scenario) : await endToEndRun(queue, scenario);
  latencies.sort((a, b) => a - b);
  return { rate: scenario.jobs / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, digits = 0) => x.toFixed(digits).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

const contenders = [await rawClient(), adapter()];
const results = new Map();
const loadBefore = load();
try {
  // Warm-up: connections, JIT, the server's first streams.
  for (const contender of contenders) await measure(contender, { ...ALL_SCENARIOS[3], jobs: 2_000 });
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      // Alternate who goes first, so neither always runs on a warmer (or busier) server.
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const key = `${scenario.name}|${contender.name}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(await measure(contender, scenario));
      }
    }
  }
  console.log(
    `NATS ${SERVERS}, ${ROUNDS} interleaved rounds, median (min-max) of jobs/s, median p50/p99 latency in ms; load average before ${loadBefore}, after ${load()}`,
  );
  console.log("scenario | contender | jobs/s | p50 ms | p99 ms");
  console.log("--- | --- | --- | --- | ---");
  const ratios = [];
  for (const scenario of SCENARIOS) {
    const rates = {};
    for (const contender of contenders) {
      const runs = results.get(`${scenario.name}|${contender.name}`);
      const list = runs.map((r) => r.rate);
      rates[contender.name] = median(list);
      console.log(
        `${scenario.name} | ${contender.name} | ${fmt(median(list))} (${fmt(Math.min(...list))}-${fmt(Math.max(...list))}) | ${fmt(
          median(runs.map((r) => r.p50)),
          2,
        )} | ${fmt(median(runs.map((r) => r.p99)), 2)}`,
      );
    }
    ratios.push([scenario.name, rates["queue-nats"] / rates["NATS client directly"]]);
  }
  console.log("");
  for (const [name, ratio] of ratios)
    console.log(`ratio queue-nats / NATS client directly, ${name}: ${ratio.toFixed(2)}`);
} finally {
  for (const contender of contenders) await contender.close();
}
