// The adapter against amqplib used directly on the same RabbitMQ, side by side in one process:
// node bench/rabbitmq.mjs (after `pnpm build`; needs RabbitMQ and Redis on 127.0.0.1).
//
// Raw amqplib is what a careful hand-written producer and consumer do: a durable quorum queue,
// persistent messages published on a confirm channel (each enqueue waits for its confirm), a
// consumer with prefetch = concurrency that parses the JSON body and acks. The adapter does the
// same plus what its contract needs. With cancellation (the default) that includes the per-job
// state in Redis: a shared "no cancels in this epoch" read before deliveries (at most one per
// epoch per 50-100 ms) and each finished job's end mark (written in batches, every 10 ms, with
// one setMany). With `cancellation: false` it keeps no per-job state.
//
// "CPU µs/job" is this process's CPU time (user + system, during the blocks: the queue setup is not in it) divided
// by the jobs: unlike jobs/s, it barely moves with the machine's load.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { createRedisCache } from "@proj/cache-redis";
import amqp from "amqplib";
import { createRabbitMqJobQueue } from "../dist/index.js";

const AMQP_URL = process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const run = randomBytes(4).toString("hex");
const payloadOf = (n) => ({ report: "sales", tenant: "t-1", format: "xlsx", n });

/** Jobs per measured run (in BLOCKS blocks), by concurrency: about half a second of work each on a quiet machine. */
const JOBS = { 1: 1_000, 32: 8_000 };
// (End-to-end runs use half as many: each job waits for its handler.)

const connection = await amqp.connect(AMQP_URL, { noDelay: true });
const confirm = await connection.createConfirmChannel();
const admin = await connection.createChannel();
const state = createRedisCache({ namespace: `bench_jobs_${run}`, url: REDIS_URL });
const queue = createRabbitMqJobQueue({ url: AMQP_URL, state, prefix: `bench${run}` });
// The same adapter without cancellation: no state per job.
const plainQueue = createRabbitMqJobQueue({
  url: AMQP_URL,
  state,
  prefix: `bench${run}n`,
  cancellation: false,
});
/** RabbitMQ names of each run's queue, by the queue's name, until the run's session drops them. */
const cleanup = new Map();
let serial = 0;

/** A fresh queue name for one run (so no run sees another's backlog). */
function freshName(who, adapter = queue) {
  const name = `${who}_${run}_${serial++}`;
  cleanup.set(name, who === "raw" ? [name] : adapter.queueNames(name));
  return name;
}

async function rawQueue() {
  const name = freshName("raw");
  await admin.assertQueue(name, { durable: true, arguments: { "x-queue-type": "quorum" } });
  return name;
}

const rawEnqueue = (name, payload) =>
  new Promise((resolve, reject) =>
    confirm.publish(
      "",
      name,
      Buffer.from(JSON.stringify(payload)),
      { persistent: true, contentType: "application/json" },
      (error) => (error ? reject(error) : resolve()),
    ),
  );

async function rawWork(name, concurrency, handler) {
  const channel = await connection.createChannel();
  await channel.prefetch(concurrency);
  await channel.consume(name, (message) => {
    const payload = JSON.parse(message.content.toString("utf8"));
    handler(payload);
    channel.ack(message);
  });
  return { close: () => channel.close() };
}

const contenders = {
  "raw amqplib": {
    async prepare() {
      return rawQueue();
    },
    enqueue: (name, payload) => rawEnqueue(name, payload),
    work: (name, concurrency, handler) => rawWork(name, concurrency, handler),
  },
  "queue-rabbitmq": adapterContender(queue),
  "queue-rabbitmq (cancellation: false)": adapterContender(plainQueue),
};

function adapterContender(adapter) {
  return {
    async prepare() {
      const name = freshName("adapter", adapter);
      // Declares its queue the way the first enqueue would, outside the timing.
      const worker = adapter.work(name, async () => undefined);
      await worker.close();
      return name;
    },
    enqueue: (name, payload) => adapter.enqueue(name, payload),
    work: (name, concurrency, handler) => {
      const worker = adapter.work(name, (job) => handler(job.payload), { concurrency });
      return { close: () => worker.close() };
    },
  };
}

/**
 * Deletes a run's queues once its session ends: a backlog left in a quorum queue keeps RabbitMQ
 * busy (segment writes) through the runs after it.
 */
async function drop(name) {
  for (const queueName of cleanup.get(name) ?? []) await admin.deleteQueue(queueName).catch(() => undefined);
  cleanup.delete(name);
}

/** Calls `step()` `jobs` times, `concurrency` at a time; returns the time it took (ms). */
async function inFlight(concurrency, jobs, step) {
  let taken = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (taken < jobs) {
        taken++;
        await step();
      }
    }),
  );
  return performance.now() - started;
}

/**
 * Enqueues with `concurrency` in flight, in blocks: each `block(jobs)` enqueues `jobs` more and
 * returns its time (ms) and per-call latencies (ms).
 */
async function enqueueSession(contender, concurrency) {
  const name = await contender.prepare();
  let next = 0;
  return {
    async block(jobs) {
      const latencies = [];
      const ms = await inFlight(concurrency, jobs, async () => {
        const t0 = performance.now();
        await contender.enqueue(name, payloadOf(next++));
        latencies.push(performance.now() - t0);
      });
      return { ms, latencies };
    },
    close: () => drop(name),
  };
}

/**
 * Enqueue → handler done, closed loop, in blocks: in each `block(jobs)`, `concurrency` producers
 * each enqueue a job and wait until a handler ran it before the next; the worker (started once,
 * idle between blocks) runs `concurrency` handlers at once.
 */
async function endToEndSession(contender, concurrency) {
  const name = await contender.prepare();
  const waiting = new Map();
  let latencies = [];
  const worker = await contender.work(name, concurrency, (payload) => {
    const job = waiting.get(payload.n);
    waiting.delete(payload.n);
    latencies.push(performance.now() - job.startedAt);
    job.resolve();
  });
  let next = 0;
  return {
    async block(jobs) {
      latencies = [];
      const ms = await inFlight(concurrency, jobs, async () => {
        const n = next++;
        const handled = new Promise((resolve) => waiting.set(n, { startedAt: performance.now(), resolve }));
        await contender.enqueue(name, payloadOf(n));
        await handled;
      });
      return { ms, latencies };
    },
    close: async () => {
      await worker.close();
      await drop(name);
    },
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const scenarios = [
  ["enqueue", 1, enqueueSession],
  ["enqueue", 32, enqueueSession],
  ["end-to-end", 1, endToEndSession],
  ["end-to-end", 32, endToEndSession],
];

/**
 * Blocks per run: the contenders take turns block by block (the order rotating), so that a burst
 * of the broker's own work (a segment write, a garbage collection) lands on all of them alike
 * instead of on one contender's whole run.
 */
const BLOCKS = 8;

const loadBefore = loadavg()
  .map((l) => l.toFixed(2))
  .join(" ");
const results = new Map();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [what, concurrency, session] of scenarios) {
      const jobs = what === "enqueue" ? JOBS[concurrency] : JOBS[concurrency] / 2;
      const entries = Object.entries(contenders);
      const open = [];
      for (const [who, contender] of entries) {
        open.push({ who, run: await session(contender, concurrency), ms: 0, cpu: 0, latencies: [] });
      }
      for (let block = 0; block < BLOCKS; block++) {
        // Block by block, each contender goes first in turn.
        const shift = (round + block) % open.length;
        for (const one of [...open.slice(shift), ...open.slice(0, shift)]) {
          const cpuBefore = process.cpuUsage();
          const { ms, latencies } = await one.run.block(jobs / BLOCKS);
          const cpu = process.cpuUsage(cpuBefore);
          one.ms += ms;
          one.cpu += cpu.user + cpu.system;
          one.latencies.push(...latencies);
        }
      }
      for (const one of open) {
        await one.run.close();
        const key = `${what} c=${concurrency} ${one.who}`;
        const sorted = one.latencies.sort((a, b) => a - b);
        const entry = results.get(key) ?? { rates: [], p50: [], p99: [], cpu: [] };
        entry.rates.push((jobs * 1000) / one.ms);
        entry.cpu.push(one.cpu / jobs);
        entry.p50.push(percentile(sorted, 50));
        entry.p99.push(percentile(sorted, 99));
        results.set(key, entry);
      }
    }
  }
  const loadAfter = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  console.log(
    `RabbitMQ ${connection.connection.serverProperties.version}, quorum queues, Node ${process.versions.node}, ${ROUNDS} rounds of ${BLOCKS} interleaved blocks, ` +
      `jobs per run: enqueue ${JOBS[1]} (c=1) / ${JOBS[32]} (c=32), end-to-end half that; ` +
      `load average before ${loadBefore}, after ${loadAfter}; ${new Date().toISOString()}`,
  );
  console.log("| scenario | contender | jobs/s (median, min–max) | p50 ms | p99 ms | CPU µs/job |");
  console.log("|---|---|---|---|---|---|");
  for (const [key, entry] of results) {
    const [, what, concurrency, who] = /^(\S+) (c=\d+) (.+)$/.exec(key);
    console.log(
      `| ${what} ${concurrency} | ${who} | ${Math.round(median(entry.rates))} (${Math.round(Math.min(...entry.rates))}–${Math.round(
        Math.max(...entry.rates),
      )}) | ${median(entry.p50).toFixed(2)} | ${median(entry.p99).toFixed(2)} | ${Math.round(median(entry.cpu))} |`,
    );
  }
  console.log("");
  for (const who of ["queue-rabbitmq", "queue-rabbitmq (cancellation: false)"]) {
    for (const [what, concurrency] of scenarios) {
      const adapter = results.get(`${what} c=${concurrency} ${who}`);
      const raw = results.get(`${what} c=${concurrency} raw amqplib`);
      // Each round measures both side by side: the median of those paired ratios is the figure
      // (the ratio of the two medians is printed too).
      const ratios = adapter.rates.map((rate, i) => rate / raw.rates[i]);
      console.log(
        `ratio ${what} c=${concurrency} ${who} / raw amqplib: ${median(ratios).toFixed(2)} ` +
          `(median of per-round ratios ${ratios.map((r) => r.toFixed(2)).join(" ")}; ratio of medians ` +
          `${(median(adapter.rates) / median(raw.rates)).toFixed(2)}; goal >= 0.90)`,
      );
    }
  }
} finally {
  for (const name of [...cleanup.keys()]) await drop(name);
  await queue.close();
  await plainQueue.close();
  await state.clear().catch(() => undefined);
  await state.close();
  await connection.close();
}
