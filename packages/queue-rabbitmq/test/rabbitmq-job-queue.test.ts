import { createRedisCache } from "@proj/cache-redis";
import { expectErrorCode, startFaultProxy, uniqueName } from "@proj/contract-tests";
import {
  type Cache,
  type CacheEntry,
  type InfrastructureError,
  isOutcomeUnknown,
  type JobDelivery,
  type JobWorker,
  type JsonValue,
} from "@proj/ports";
import amqp from "amqplib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  ANSWER_STANDS_MS,
  createRabbitMqJobQueue,
  END_MARKS_EVERY_MS,
  jobMessageType,
  type RabbitMqJobQueue,
  WAIT_PERIODS_MS,
} from "../src/index.js";
import { AMQP_URL, deleteQueues, PREFIX, QueueFixture, REDIS_URL, readyCount } from "./support/harness.js";

const fixture = new QueueFixture();
afterAll(() => fixture.clear());

const opened: RabbitMqJobQueue[] = [];
const names: string[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((queue) => fixture.destroy(queue)));
  await Promise.allSettled(names.splice(0).map((name) => fixture.dropQueue(name)));
});

async function open(options: Parameters<QueueFixture["create"]>[0] = {}): Promise<RabbitMqJobQueue> {
  const queue = await fixture.create(options);
  opened.push(queue);
  return queue;
}

function name(prefix: string): string {
  const created = uniqueName(prefix);
  names.push(created);
  return created;
}

async function until(
  probe: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Publishes a raw message onto a job queue, as another application might. */
async function publishRaw(queue: string, content: string, type: string | undefined): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(`${PREFIX}.${queue}`, Buffer.from(content), { persistent: true, type });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

describe("options", () => {
  it("refuses a queue without state, a bad prefix and bad numbers with INVALID_ARGUMENT", async () => {
    const state = createRedisCache({ namespace: fixture.namespace });
    try {
      await expectErrorCode(() => createRabbitMqJobQueue({} as never), "INVALID_ARGUMENT");
      await expectErrorCode(() => createRabbitMqJobQueue({ state, prefix: "amq-x" }), "INVALID_ARGUMENT");
      await expectErrorCode(() => createRabbitMqJobQueue({ state, prefix: "has.dot" }), "INVALID_ARGUMENT");
      await expectErrorCode(() => createRabbitMqJobQueue({ state, timeoutMs: 0 }), "INVALID_ARGUMENT");
      await expectErrorCode(
        () => createRabbitMqJobQueue({ state, idempotencyWindowMs: 1.5 }),
        "INVALID_ARGUMENT",
      );
      await expectErrorCode(
        () => createRabbitMqJobQueue({ state, heartbeatSeconds: -1 }),
        "INVALID_ARGUMENT",
      );
      const queue = createRabbitMqJobQueue({
        state,
        idempotencyWindowMs: 48 * 3_600_000,
        maxPayloadBytes: 4_096,
      });
      expect(queue.capabilities).toEqual({
        shared: true,
        idempotencyWindowMs: 48 * 3_600_000,
        maxPayloadBytes: 4_096,
        cancel: true,
      });
      await queue.close();
      const withoutCancel = createRabbitMqJobQueue({ state, cancellation: false });
      expect(withoutCancel.capabilities.cancel).toBe(false);
      await withoutCancel.close();
      expect(() => createRabbitMqJobQueue({ state, cancellation: "no" as unknown as boolean })).toThrow(
        /cancellation must be a boolean/,
      );
    } finally {
      await state.close();
    }
  });

  it("refuses a listDeadLetters cursor it did not make", async () => {
    const queue = await open();
    for (const after of ["x", "-1", "1.5", "01", ""]) {
      await expectErrorCode(() => queue.listDeadLetters(name("cursor"), { after }), "INVALID_ARGUMENT");
    }
  });
});

describe("delays", () => {
  it("parks a delayed job in the wait queues no longer than its delay, and creates no other", async () => {
    const queue = await open();
    const jobs = name("waits");
    await queue.enqueue(jobs, { n: 1 }, { delayMs: 5_000 });
    await queue.enqueue(jobs, { n: 2 }, { delayMs: 100 });
    const counts = await Promise.all(
      WAIT_PERIODS_MS.map((period) => readyCount(queue.names.wait(jobs, period))),
    );
    const used = WAIT_PERIODS_MS.filter((_, i) => (counts[i] ?? 0) > 0);
    // 5,000 ms starts in the 4,096 ms queue, 100 ms in the 64 ms one (or it already came back).
    expect(used).toContain(4_096);
    expect(used.every((period) => period === 4_096 || period === 64)).toBe(true);
    expect(await readyCount(queue.names.main(jobs))).toBeLessThanOrEqual(1);
  });
});

describe("dead letters", () => {
  it("dead-letters a job whose last attempt lost its lease (released at a close deadline), with attempts made", async () => {
    const queue = await open();
    const jobs = name("lease-lost");
    const { id } = await queue.enqueue(jobs, { n: 1 }, { maxAttempts: 1 });
    let started = 0;
    const worker = queue.work(jobs, (job) => {
      started += 1;
      return new Promise((_resolve, reject) =>
        job.signal.addEventListener("abort", () => reject(job.signal.reason)),
      );
    });
    await until(() => started === 1, "the handler started");
    await worker.close({ deadlineMs: 50 });
    const second = queue.work(jobs, async () => {
      started += 1;
    });
    await until(
      async () => (await queue.listDeadLetters(jobs)).items.length === 1,
      "the job is a dead letter",
    );
    const [dead] = (await queue.listDeadLetters(jobs)).items;
    expect(dead).toMatchObject({ id, attempts: 1, payload: { n: 1 }, error: { code: "UNAVAILABLE" } });
    expect(dead?.error.message).toMatch(/lost its lease/);
    expect(started, "a job past its last attempt ran again").toBe(1);
    await second.close();
  });

  it("lists a job dead-lettered, redriven and dead again once, with its latest failure", async () => {
    const queue = await open();
    const jobs = name("dead-twice");
    let round = 1;
    const { id } = await queue.enqueue(jobs, { n: 1 }, { maxAttempts: 1 });
    const worker = queue.work(jobs, async () => {
      throw Object.assign(new Error(`round ${round}`), { retryable: true });
    });
    await until(async () => (await queue.listDeadLetters(jobs)).items.length === 1, "the first dead letter");
    round = 2;
    expect(await queue.redrive(id)).toBe(true);
    await until(
      async () => (await queue.listDeadLetters(jobs)).items.some((dead) => dead.error.message === "round 2"),
      "the second dead letter",
    );
    const { items } = await queue.listDeadLetters(jobs);
    expect(items.map((dead) => dead.id)).toEqual([id]);
    await worker.close();
  });
});

describe("idempotency keys", () => {
  it("a duplicate enqueue's message is dropped when delivered, even if it beats the first job to a worker", async () => {
    const queue = await open();
    const jobs = name("dup-drop");
    const seen: JobDelivery[] = [];
    const worker = queue.work(jobs, async (job) => {
      seen.push(job);
    });
    const first = await queue.enqueue(jobs, { v: 1 }, { idempotencyKey: "k", delayMs: 300 });
    const second = await queue.enqueue(jobs, { v: 2 }, { idempotencyKey: "k" });
    expect(second).toEqual({ id: first.id, duplicate: true });
    await until(() => seen.length === 1, "the first job ran");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.map((job) => job.payload as JsonValue)).toEqual([{ v: 1 }]);
    await worker.close();
  });

  it("refuses a key claimed under another idempotency window with CONFLICT", async () => {
    const queue = await open();
    const other = await open({ idempotencyWindowMs: 25 * 3_600_000 });
    const jobs = name("window");
    await queue.enqueue(jobs, { n: 1 }, { idempotencyKey: "k", delayMs: 60_000 });
    const error = await expectErrorCode(
      () => other.enqueue(jobs, { n: 2 }, { idempotencyKey: "k" }),
      "UNAVAILABLE",
    );
    expect(isOutcomeUnknown(error)).toBe(true);
    expect((error.cause as InfrastructureError).code).toBe("CONFLICT");
  });
});

describe("failures", () => {
  it("enqueue says UNAVAILABLE with an unknown outcome when the state store is down (the job is published, unmarked)", async () => {
    const state = createRedisCache({ namespace: fixture.namespace, url: "redis://127.0.0.1:1" });
    const queue = createRabbitMqJobQueue({ url: AMQP_URL, state, prefix: PREFIX });
    const jobs = name("no-state");
    try {
      const error = await expectErrorCode(() => queue.enqueue(jobs, { n: 1 }), "UNAVAILABLE");
      expect(isOutcomeUnknown(error)).toBe(true);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/cancel cannot find it/);
      expect(await readyCount(queue.names.main(jobs))).toBe(1);
      // An id of another issuer: its epoch record must be read.
      await expectErrorCode(() => queue.cancel(`${jobs}.EEEEEEEEDDDDDDDDDDDDDDDDDDDDDD`), "UNAVAILABLE");
    } finally {
      await queue.close();
      await state.close();
    }
  });

  it("enqueue fails with UNAVAILABLE at once when RabbitMQ refuses connections", async () => {
    const queue = await open({ url: "amqp://guest:guest@127.0.0.1:1" });
    const started = Date.now();
    await expectErrorCode(() => queue.enqueue(name("refused"), { n: 1 }), "UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a caller's short deadline fails that call only: publishes in flight beside it are confirmed", async () => {
    const queue = await open();
    const jobs = name("short-deadline");
    await queue.enqueue(jobs, { warm: true });
    let timedOut = 0;
    for (let round = 0; round < 5 && timedOut === 0; round++) {
      const others = Array.from({ length: 20 }, (_, n) => queue.enqueue(jobs, { n }));
      const short = queue.enqueue(jobs, { short: true }, { timeoutMs: 1 }).then(
        () => undefined,
        (error: InfrastructureError) => error,
      );
      const results = await Promise.all(others);
      expect(results.every((result) => result.duplicate === false)).toBe(true);
      const error = await short;
      if (error !== undefined) {
        expect(error.code).toBe("TIMEOUT");
        timedOut += 1;
      }
    }
    expect(timedOut, "no enqueue timed out at 1 ms: the case did not happen").toBe(1);
  });

  it("fails with UNAUTHENTICATED on wrong credentials", async () => {
    const queue = await open({ url: "amqp://guest:wrong@127.0.0.1:5672" });
    await expectErrorCode(() => queue.enqueue(name("login"), { n: 1 }), "UNAUTHENTICATED");
  });

  it("acknowledges and reports a message on a job queue that is no job, and goes on", async () => {
    const reported: InfrastructureError[] = [];
    const queue = await open({ onError: (error) => reported.push(error) });
    const jobs = name("foreign");
    const seen: string[] = [];
    const worker = queue.work(jobs, async (job) => {
      seen.push(job.id);
    });
    const { id } = await queue.enqueue(jobs, { n: 1 });
    await until(() => seen.length === 1, "the real job ran");
    // A job of another queue, a type that is no job's, and no type at all.
    await publishRaw(
      jobs,
      "{}",
      jobMessageType({
        id: "elsewhere.EEEEEEEEAAAAAAAAAAAAAAAAAAAAAA",
        attempt: 1,
        maxAttempts: 3,
        dueAt: 0,
        keyHash: undefined,
      }),
    );
    await publishRaw(jobs, "{}", "job1 1 3 x elsewhere");
    await publishRaw(jobs, "not json", undefined);
    await until(
      () => reported.filter((error) => /carries no job/.test(error.message)).length === 3,
      "both reported",
    );
    expect(await readyCount(queue.names.main(jobs))).toBe(0);
    const { id: later } = await queue.enqueue(jobs, { n: 2 });
    await until(() => seen.includes(later), "a later job ran");
    expect(seen).toEqual([id, later]);
    await worker.close();
  });

  it("dead-letters a job whose payload is not JSON with INTERNAL, without running it, and lists its raw text", async () => {
    const queue = await open();
    const jobs = name("bad-body");
    let ran = 0;
    const worker = queue.work(jobs, async () => {
      ran += 1;
    });
    await queue.enqueue(jobs, { warm: true });
    await until(() => ran === 1, "the warm-up job ran");
    const id = `${jobs}.EEEEEEEEBBBBBBBBBBBBBBBBBBBBBB`;
    await publishRaw(
      jobs,
      "{not json",
      jobMessageType({ id, attempt: 1, maxAttempts: 3, dueAt: Date.now(), keyHash: undefined }),
    );
    await until(
      async () => (await queue.listDeadLetters(jobs)).items.length === 1,
      "the bad job is a dead letter",
    );
    const [dead] = (await queue.listDeadLetters(jobs)).items;
    expect(dead).toMatchObject({ id, attempts: 1, payload: "{not json", error: { code: "INTERNAL" } });
    expect(dead?.error.message).toMatch(/not JSON/);
    expect(ran).toBe(1);
    await worker.close();
  });

  it("a worker whose queue is deleted under it declares it again and takes new jobs", async () => {
    const reported: InfrastructureError[] = [];
    const queue = await open({ onError: (error) => reported.push(error) });
    const jobs = name("deleted");
    const seen: string[] = [];
    const worker = queue.work(jobs, async (job) => {
      seen.push(job.id);
    });
    await queue.enqueue(jobs, { n: 1 });
    await until(() => seen.length === 1, "the first job ran");
    await deleteQueues([queue.names.main(jobs)]);
    await until(
      () => reported.some((error) => /lost its channel/.test(error.message)),
      "the loss was reported",
    );
    // The enqueue finds the queue gone (returned unrouted), declares it again and publishes once more.
    const { id } = await queue.enqueue(jobs, { n: 2 });
    await until(() => seen.includes(id), "the job after the deletion ran");
    await worker.close();
  });

  it("cancelled jobs among many taken at once never run; the others all do", async () => {
    const queue = await open();
    const jobs = name("cancel-many");
    const ids: string[] = [];
    for (let n = 0; n < 64; n++) ids.push((await queue.enqueue(jobs, { n })).id);
    // Same epoch: the deliveries share one "cancels exist" read, which finds the mark.
    const cancelled = [ids[3], ids[31], ids[60]] as string[];
    for (const id of cancelled) expect(await queue.cancel(id)).toBe(true);
    const seen: string[] = [];
    const worker = queue.work(
      jobs,
      async (job) => {
        seen.push(job.id);
      },
      { concurrency: 32 },
    );
    await until(() => seen.length === ids.length - cancelled.length, "the other jobs ran");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.filter((id) => cancelled.includes(id))).toEqual([]);
    expect(new Set(seen).size).toBe(ids.length - cancelled.length);
    await worker.close();
  });

  it("cancel and redrive answer false for ids of this adapter's shape that name no job", async () => {
    const queue = await open();
    const jobs = name("unknown");
    const id = `${jobs}.EEEEEEEECCCCCCCCCCCCCCCCCCCCCC`;
    expect(await queue.cancel(id)).toBe(false);
    expect(await queue.redrive(id)).toBe(false);
    // The epoch of a real issuer (its record is in the state), a block it never issued.
    const { id: real } = await queue.enqueue(jobs, { n: 1 });
    const forged = `${real.slice(0, -22)}CCCCCCCCCCCCCCCCCCCCCC`;
    expect(await queue.cancel(forged)).toBe(false);
    const elsewhere = await open();
    expect(await elsewhere.cancel(forged), "another process").toBe(false);
    expect(await elsewhere.cancel(real), "another process cancels the waiting job").toBe(true);
    expect(await queue.cancel(real), "cancelled already").toBe(false);
  });
});

/**
 * A state cache (Redis) that counts its writes and offers what `offers` says: member sets and
 * `setMany` (as cache-redis does), `setMany` only, or neither (plain `set`).
 */
function countingState(offers: "member sets" | "setMany" | "set" = "member sets"): {
  state: Cache<JsonValue>;
  close(): Promise<void>;
  calls: { set: number; setMany: number; entries: number; addMembers: number; members: number };
} {
  const redis = createRedisCache({ namespace: fixture.namespace, url: REDIS_URL });
  const calls = { set: 0, setMany: 0, entries: 0, addMembers: 0, members: 0 };
  const sets = offers === "member sets";
  const batches = offers !== "set";
  const state = new Proxy(redis, {
    get(target, property) {
      if (property === "capabilities") {
        return { ...target.capabilities, memberSets: sets, batchWrites: batches };
      }
      if (property === "addMembers") {
        if (!sets) return undefined;
        return (key: string, members: readonly string[], options?: object) => {
          calls.addMembers += 1;
          calls.members += members.length;
          return target.addMembers?.(key, members, options);
        };
      }
      if (property === "hasMember" && !sets) return undefined;
      if (property === "setMany") {
        if (!batches) return undefined;
        return (entries: readonly CacheEntry<JsonValue>[], options?: object) => {
          calls.setMany += 1;
          calls.entries += entries.length;
          return target.setMany(entries, options);
        };
      }
      if (property === "set") {
        return (key: string, value: JsonValue, options?: object) => {
          calls.set += 1;
          return target.set(key, value, options);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Cache<JsonValue>;
  return { state, calls, close: () => redis.close() };
}

/** Enqueues `count` jobs on `jobs`; `work()` then runs them with `concurrency` until every one ran. */
async function jobsToRun(
  queue: RabbitMqJobQueue,
  jobs: string,
  count: number,
  concurrency: number,
): Promise<{ ids: string[]; work(): Promise<JobWorker> }> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push((await queue.enqueue(jobs, { n })).id);
  return {
    ids,
    async work() {
      let handled = 0;
      const worker = queue.work(
        jobs,
        async () => {
          handled += 1;
        },
        { concurrency },
      );
      await until(() => handled === ids.length, "every job ran");
      return worker;
    },
  };
}

/** Starts a worker on `jobs` whose first job, once running, waits for the returned `release()`. */
async function startHeldJob(queue: RabbitMqJobQueue, jobs: string): Promise<() => void> {
  let started = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  queue.work(jobs, async () => {
    started = true;
    await gate;
  });
  await until(() => started, "the job started");
  return release;
}

describe("state calls", () => {
  it("a job cancelled just after a worker read that its epoch had no cancels never runs: cancel outwaits that answer", async () => {
    const producer = await open();
    const workerSide = await open();
    const jobs = name("cancel-window");
    const { id: first } = await producer.enqueue(jobs, { n: 1 });
    const { id: second } = await producer.enqueue(jobs, { n: 2 });
    const seen: string[] = [];
    let answer: boolean | undefined;
    let cancelMs = 0;
    // Concurrency 1: the second job waits in RabbitMQ until the first is acknowledged, which is
    // right after its handler cancelled the second, well within the worker's "no cancels" answer
    // read when the first was delivered.
    const worker = workerSide.work(
      jobs,
      async (job) => {
        seen.push(job.id);
        if (job.id !== first) return;
        const started = performance.now();
        answer = await producer.cancel(second);
        cancelMs = performance.now() - started;
      },
      { concurrency: 1 },
    );
    await until(() => answer !== undefined, "the first job's handler cancelled the second");
    await new Promise((resolve) => setTimeout(resolve, 2 * ANSWER_STANDS_MS + 300));
    expect(answer).toBe(true);
    expect(seen, "the cancelled job ran").toEqual([first]);
    expect(cancelMs).toBeGreaterThanOrEqual(ANSWER_STANDS_MS);
    await worker.close();
  });

  it("a cancel whose deadline ends while it outwaits the workers' answers fails with TIMEOUT, outcome unknown, and the job never runs", async () => {
    const queue = await open();
    const jobs = name("cancel-deadline");
    const { id } = await queue.enqueue(jobs, { n: 1 });
    const error = await expectErrorCode(
      () => queue.cancel(id, { timeoutMs: ANSWER_STANDS_MS / 2 }),
      "TIMEOUT",
    );
    expect(isOutcomeUnknown(error), error.message).toBe(true);
    expect(await queue.cancel(id), "the end mark was written").toBe(false);
    const seen: string[] = [];
    const { id: kept } = await queue.enqueue(jobs, { n: 2 });
    const worker = queue.work(jobs, async (job) => {
      seen.push(job.id);
    });
    await until(() => seen.includes(kept), "the other job ran");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toEqual([kept]);
    await worker.close();
  });

  it("runs jobs while the state store answers slower than a 'no cancels' answer stands", async () => {
    const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: 6379 } });
    const state = createRedisCache({ namespace: fixture.namespace, url: `redis://127.0.0.1:${proxy.port}` });
    try {
      const queue = await open({ state });
      const jobs = name("slow-state");
      const ids: string[] = [];
      for (let n = 0; n < 3; n++) ids.push((await queue.enqueue(jobs, { n })).id);
      // Every reply now comes later than an answer stands.
      proxy.setLatency(ANSWER_STANDS_MS + 50);
      const seen: string[] = [];
      const worker = queue.work(jobs, async (job) => {
        seen.push(job.id);
      });
      await until(() => seen.length === ids.length, "every job ran", 15_000);
      expect([...seen].sort()).toEqual([...ids].sort());
      await worker.close();
    } finally {
      await state.close();
      await proxy.close();
    }
  });

  it("adds the jobs that end together to their epoch's done set in one addMembers, and cancel then answers false, in another process too", async () => {
    const { state, calls, close } = countingState("member sets");
    try {
      const queue = await open({ state });
      const { ids, work } = await jobsToRun(queue, name("done-set"), 40, 8);
      // The epoch's record was written by the enqueues: from here on, only end marks.
      const setsBefore = calls.set;
      const worker = await work();
      await until(() => calls.members === ids.length, "every job was added to the done set");
      expect(calls.addMembers, "one addMembers per job: the marks were not batched").toBeLessThan(
        ids.length / 2,
      );
      expect(calls.set - setsBefore + calls.setMany, "a done mark written as an entry").toBe(0);
      const elsewhere = await open();
      for (const id of ids) {
        expect(await queue.cancel(id), id).toBe(false);
        expect(await elsewhere.cancel(id), `${id} in another process`).toBe(false);
      }
      // A job that has not run is still cancellable: the set holds the finished ones only.
      const { id: waiting } = await queue.enqueue(name("done-set-other"), { n: 0 });
      expect(await elsewhere.cancel(waiting)).toBe(true);
      await worker.close();
    } finally {
      await close();
    }
  });

  it("writes the end marks of jobs that end together in one setMany when the state has no member sets, and cancel then answers false", async () => {
    const { state, calls, close } = countingState("setMany");
    try {
      const queue = await open({ state });
      const { ids, work } = await jobsToRun(queue, name("end-marks"), 40, 8);
      // The epoch's record was written by the enqueues: from here on, only end marks.
      const setsBefore = calls.set;
      const worker = await work();
      await until(() => calls.entries === ids.length, "every end mark was written");
      expect(calls.setMany, "one setMany per job: the marks were not batched").toBeLessThan(ids.length / 2);
      expect(calls.set - setsBefore, "end marks written one by one").toBe(0);
      for (const id of ids) expect(await queue.cancel(id), id).toBe(false);
      await worker.close();
    } finally {
      await close();
    }
  });

  it("writes end marks one by one through set when the state has neither member sets nor setMany", async () => {
    const { state, calls, close } = countingState("set");
    try {
      const queue = await open({ state });
      const jobs = name("end-marks-set");
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) ids.push((await queue.enqueue(jobs, { n })).id);
      const setsBefore = calls.set;
      let handled = 0;
      const worker = queue.work(jobs, async () => {
        handled += 1;
      });
      await until(() => handled === ids.length, "every job ran");
      await until(() => calls.set - setsBefore === ids.length, "every end mark was written");
      expect(calls.setMany).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, END_MARKS_EVERY_MS * 3));
      for (const id of ids) expect(await queue.cancel(id), id).toBe(false);
      await worker.close();
    } finally {
      await close();
    }
  });

  it("close() writes the end marks of the last jobs before it resolves", async () => {
    const { state, close } = countingState();
    const queue = createRabbitMqJobQueue({ url: AMQP_URL, state, prefix: PREFIX });
    const other = await open();
    const jobs = name("end-marks-close");
    try {
      const { id } = await queue.enqueue(jobs, { n: 1 });
      const release = await startHeldJob(queue, jobs);
      // As an application shuts down: the queue (which waits for the running job, whose end
      // mark is then still to write), then at once the state it was given.
      const closing = queue.close();
      release();
      await closing;
      await close();
      expect(await other.cancel(id), "the finished job's end mark is missing").toBe(false);
    } finally {
      await queue.close();
      await close().catch(() => undefined);
    }
  });

  it("close() settles within the state's deadline when the state goes silent before the last end marks, and reports them to onError", async () => {
    const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: 6379 } });
    const state = createRedisCache({
      namespace: fixture.namespace,
      url: `redis://127.0.0.1:${proxy.port}`,
      commandTimeoutMs: 500,
    });
    const errors: InfrastructureError[] = [];
    const queue = createRabbitMqJobQueue({
      url: AMQP_URL,
      state,
      prefix: PREFIX,
      onError: (e) => errors.push(e),
    });
    const jobs = name("end-marks-silent");
    try {
      await queue.enqueue(jobs, { n: 1 });
      const release = await startHeldJob(queue, jobs);
      // The state store stops answering (a silent network) while the job is still running: its
      // end mark is the one close() has to write.
      await proxy.set("silent");
      const closeStarted = performance.now();
      const closing = queue.close();
      release();
      await closing;
      const closeMs = performance.now() - closeStarted;
      expect(closeMs, "close() waited past the state's own deadline").toBeLessThan(3_000);
      const lost = errors.find((error) => /recording the end of/.test(error.message));
      expect(lost, errors.map((error) => `${error.code}: ${error.message}`).join("\n")).toBeDefined();
      expect(["TIMEOUT", "UNAVAILABLE"]).toContain(lost?.code);
    } finally {
      await queue.close();
      await state.close();
      await proxy.close();
    }
  });

  it("each publish keeps its own deadline when confirms stop coming: a shorter one armed later fails first", async () => {
    const proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: 5672 } });
    try {
      const queue = await open({ url: `amqp://guest:guest@127.0.0.1:${proxy.port}` });
      const jobs = name("mixed-deadlines");
      await queue.enqueue(jobs, { warm: true });
      await proxy.set("lose-replies");
      const started = performance.now();
      const settledAfter = (promise: Promise<unknown>) =>
        promise.then(
          () => ({ ms: performance.now() - started, error: undefined }),
          (error: InfrastructureError) => ({ ms: performance.now() - started, error }),
        );
      const long = settledAfter(queue.enqueue(jobs, { n: 1 }, { timeoutMs: 3_000 }));
      const short = settledAfter(queue.enqueue(jobs, { n: 2 }, { timeoutMs: 300 }));
      const [shortResult, longResult] = await Promise.all([short, long]);
      expect(shortResult.error?.code).toBe("TIMEOUT");
      expect(isOutcomeUnknown(shortResult.error as InfrastructureError)).toBe(true);
      expect(shortResult.ms).toBeGreaterThanOrEqual(295);
      expect(shortResult.ms, "the shorter deadline waited for the longer").toBeLessThan(2_000);
      expect(longResult.error?.code).toBe("TIMEOUT");
      expect(longResult.ms).toBeGreaterThanOrEqual(2_995);
      expect(longResult.ms).toBeLessThan(5_000);
    } finally {
      await proxy.close();
    }
  });
});
