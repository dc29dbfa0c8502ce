// The adapter against BullMQ used directly, on the same Redis, in one process, each run in blocks the two take in turn:
// node bench/queue.mjs (after `pnpm build`). ROUNDS=7 node bench/queue.mjs for more rounds.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { createRedisJobQueue } from "../dist/index.js";

const URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const run = randomBytes(4).toString("hex");
const RAW_PREFIX = `bench-raw-${run}`;
const NAMESPACE = `bench-adapter-${run}`;
const payload = { tenant: "t-42", report: "monthly-usage", month: "2024-05", format: "xlsx", rows: 1200 };

/** Scenarios: what is timed, with how many in flight, over how many jobs. */
const SCENARIOS = [
  { name: "enqueue, 1 in flight", kind: "enqueue", concurrency: 1, jobs: 1_500 },
  { name: "enqueue, 32 in flight", kind: "enqueue", concurrency: 32, jobs: 8_000 },
  { name: "end-to-end, concurrency 1", kind: "e2e", concurrency: 1, jobs: 600 },
  { name: "end-to-end, concurrency 32", kind: "e2e", concurrency: 32, jobs: 5_000 },
];

let queueSeq = 0;
const queueName = (scenario) => `q${queueSeq++}-${scenario.kind}-${scenario.concurrency}`;

/** The two contenders, each able to make a producer and a worker on a queue name. */
function rawBullmq() {
  const connection = new Redis(URL, { maxRetriesPerRequest: null });
  const queues = [];
  return {
    name: "BullMQ directly",
    producer(name) {
      const queue = new Queue(name, { connection, prefix: RAW_PREFIX });
      queues.push(queue);
      // What a user of BullMQ writes for the same promise: retries with back-off, done jobs removed.
      const options = { attempts: 3, backoff: { type: "exponential", delay: 1_000 }, removeOnComplete: true };
      return (data) => queue.add("job", data, options);
    },
    worker(name, concurrency, onJob) {
      const worker = new Worker(name, async (job) => onJob(job.data), {
        connection: new Redis(URL, { maxRetriesPerRequest: null }),
        prefix: RAW_PREFIX,
        concurrency,
      });
      return {
        ready: worker.waitUntilReady(),
        close: async () => {
          await worker.close();
          await worker.opts.connection.quit();
        },
      };
    },
    async close() {
      for (const queue of queues) await queue.obliterate({ force: true }).catch(() => undefined);
      await Promise.all(queues.map((queue) => queue.close()));
      await connection.quit();
    },
  };
}

function adapter() {
  const jobs = createRedisJobQueue({ url: URL, namespace: NAMESPACE });
  return {
    name: "queue-redis",
    producer(name) {
      return (data) => jobs.enqueue(name, data);
    },
    worker(name, concurrency, onJob) {
      const worker = jobs.work(name, async (job) => onJob(job.payload), { concurrency });
      return { ready: Promise.resolve(), close: () => worker.close() };
    },
    async close() {
      await jobs.close();
      const client = new Redis(URL);
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", `${NAMESPACE}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== "0");
      await client.quit();
    },
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * Blocks per run: the contenders take turns block by block (the order alternating), so that a
 * burst of the machine's or Redis's own work lands on both alike instead of on one contender's
 * whole run. (Whole runs one after the other moved the enqueue ratio at 32 in flight from 0.66 to
 * 0.98 between runs of the same code.)
 */
const BLOCKS = Number(process.env.BLOCKS ?? 8);

/** Calls `step(i)` for `jobs` values of i, `concurrency` at a time. */
async function inFlight(concurrency, jobs, step) {
  let taken = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (taken < jobs) await step(taken++);
    }),
  );
}

/**
 * One run of `scenario` on `contender`, on a fresh queue (with its worker for end-to-end, started
 * once and idle between blocks): `block(jobs)` times `jobs` more jobs.
 */
async function session(contender, scenario) {
  const name = queueName(scenario);
  const enqueue = contender.producer(name);
  const waiting = new Map();
  let worker;
  if (scenario.kind === "e2e") {
    worker = contender.worker(name, scenario.concurrency, (data) => {
      const done = waiting.get(data.seq);
      waiting.delete(data.seq);
      done?.();
    });
    await worker.ready;
    // Warm the worker's fetch loop and the producer's scripts outside the timed part.
    await new Promise((resolve) => {
      waiting.set(-1, resolve);
      enqueue({ ...payload, seq: -1 });
    });
  } else {
    await enqueue({ ...payload, seq: -1 });
  }
  let seq = 0;
  return {
    async block(jobs) {
      const latencies = new Float64Array(jobs);
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      await inFlight(scenario.concurrency, jobs, async (i) => {
        const mine = seq++;
        const began = performance.now();
        if (scenario.kind === "e2e") {
          const done = new Promise((resolve) => waiting.set(mine, resolve));
          await enqueue({ ...payload, seq: mine });
          await done;
        } else {
          await enqueue({ ...payload, seq: mine });
        }
        latencies[i] = performance.now() - began;
      });
      const ms = performance.now() - start;
      const cpu = process.cpuUsage(cpuBefore);
      return { ms, cpuUs: cpu.user + cpu.system, latencies };
    },
    close: async () => {
      await worker?.close();
    },
  };
}

/** One run of `scenario` on both contenders, block by block: per contender, jobs/s, p50/p99 (ms) and CPU µs per job. */
async function measure(contenders, scenario, round) {
  const open = [];
  for (const contender of contenders) {
    open.push({ contender, run: await session(contender, scenario), ms: 0, cpuUs: 0, latencies: [] });
  }
  const perBlock = Math.ceil(scenario.jobs / BLOCKS);
  for (let block = 0; block < BLOCKS; block++) {
    const order = (round + block) % 2 === 0 ? open : [...open].reverse();
    for (const one of order) {
      const { ms, cpuUs, latencies } = await one.run.block(perBlock);
      one.ms += ms;
      one.cpuUs += cpuUs;
      one.latencies.push(...latencies);
    }
  }
  const jobs = perBlock * BLOCKS;
  const results = new Map();
  for (const one of open) {
    await one.run.close();
    const sorted = one.latencies.sort((x, y) => x - y);
    results.set(one.contender, {
      rate: (jobs * 1000) / one.ms,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      // CPU time of this process per job: less sensitive to a busy machine than wall-clock rates.
      cpuUs: one.cpuUs / jobs,
    });
  }
  return results;
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (n, digits = 0) => n.toFixed(digits);

const contenders = [rawBullmq(), adapter()];
const results = new Map();
const key = (contender, scenario) => `${contender.name}|${scenario.name}`;
const loadBefore = loadavg();
try {
  // Round 0 warms both up and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const scenario of SCENARIOS) {
      const measured = await measure(contenders, scenario, round);
      if (round === 0) continue;
      for (const [contender, result] of measured) {
        const list = results.get(key(contender, scenario)) ?? [];
        list.push(result);
        results.set(key(contender, scenario), list);
      }
    }
  }
} finally {
  for (const contender of contenders) await contender.close();
}
const loadAfter = loadavg();

console.log(
  `queue-redis vs BullMQ directly, Redis at ${URL.replace(/\/\/.*@/, "//")}, node ${process.version}, ` +
    `${ROUNDS} rounds after a warm-up, each run in ${BLOCKS} blocks the contenders take in turn; median (min-max) of the rounds`,
);
console.log(
  `load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadAfter.map((x) => x.toFixed(2)).join(" ")}`,
);
console.log("");
console.log(
  `${"scenario".padEnd(28)} ${"contender".padEnd(16)} ${"jobs/s".padStart(22)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"cpu µs/job".padStart(11)}`,
);
const ratios = [];
for (const scenario of SCENARIOS) {
  const medians = {};
  for (const contender of contenders) {
    const list = results.get(key(contender, scenario));
    const rates = list.map((r) => r.rate);
    medians[contender.name] = median(rates);
    console.log(
      `${scenario.name.padEnd(28)} ${contender.name.padEnd(16)} ${`${fmt(median(rates))} (${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))})`.padStart(22)} ${fmt(median(list.map((r) => r.p50)), 2).padStart(8)} ${fmt(median(list.map((r) => r.p99)), 2).padStart(8)} ${fmt(median(list.map((r) => r.cpuUs))).padStart(11)}`,
    );
  }
  const cpu = (name) => median(results.get(`${name}|${scenario.name}`).map((r) => r.cpuUs));
  ratios.push([
    scenario.name,
    medians["queue-redis"] / medians["BullMQ directly"],
    cpu("queue-redis") / cpu("BullMQ directly"),
  ]);
}
console.log("");
for (const [name, ratio, cpuRatio] of ratios) {
  console.log(
    `ratio queue-redis / BullMQ, ${name}: ${ratio.toFixed(2)} jobs/s (CPU per job ${cpuRatio.toFixed(2)}x)`,
  );
}
process.exit(0);
