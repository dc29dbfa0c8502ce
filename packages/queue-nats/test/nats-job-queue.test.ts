import { connect, createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { expectErrorCode, uniqueName } from "@proj/contract-tests";
import { InfrastructureError, isInfrastructureError, type JobDelivery, type JobWorker } from "@proj/ports";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { NatsJobQueue } from "../src/index.js";
import { dropNamespace, dropQueue, NATS_SERVERS, openQueue, TEST_NAMESPACE } from "./support/nats.js";

const FAST = { leaseMs: 1_000, backoff: { initialMs: 20, maxMs: 200 } };

let admin: NatsConnection;
const opened: NatsJobQueue[] = [];
const workers: JobWorker[] = [];
const queues: string[] = [];

function queue(options: Parameters<typeof openQueue>[0] = {}): NatsJobQueue {
  const made = openQueue(options);
  opened.push(made);
  return made;
}

function name(prefix: string): string {
  const made = uniqueName(prefix);
  queues.push(made);
  return made;
}

function work(on: NatsJobQueue, ...args: Parameters<NatsJobQueue["work"]>): JobWorker {
  const worker = on.work(...args);
  workers.push(worker);
  return worker;
}

async function api<T>(subject: string, body: unknown = undefined): Promise<T> {
  const reply = await admin.request(subject, body === undefined ? "" : JSON.stringify(body), {
    timeout: 5_000,
  });
  return reply.json<T>();
}

async function until(probe: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Takes one delivery from a queue's consumer the way a worker that dies at once would: it is
 * received, never acknowledged, and comes back after the consumer's ack wait.
 */
async function takeAndDrop(stream: string): Promise<Msg> {
  const inbox = createInbox();
  const sub = admin.subscribe(inbox, { max: 1 });
  admin.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.workers`, JSON.stringify({ batch: 1, expires: 5e9 }), {
    reply: inbox,
  });
  for await (const msg of sub) return msg;
  throw new Error("no delivery");
}

/** A first worker makes the queue's consumer (ack wait 1 s), then goes. */
async function makeConsumer(jobs: NatsJobQueue, q: string): Promise<void> {
  const worker = jobs.work(q, async () => undefined, FAST);
  await until(async () => {
    const info = await api<{ error?: unknown }>(`$JS.API.CONSUMER.INFO.${TEST_NAMESPACE}_jobs_${q}.workers`);
    return info.error === undefined;
  }, "the consumer exists");
  await worker.close();
}

beforeAll(async () => {
  admin = await connect({ servers: NATS_SERVERS });
});

afterEach(async () => {
  await Promise.allSettled(workers.splice(0).map((worker) => worker.close({ deadlineMs: 1_000 })));
  await Promise.allSettled(opened.splice(0).map((made) => made.close()));
  await Promise.allSettled(queues.splice(0).map(dropQueue));
});

afterAll(async () => {
  expect(await dropNamespace()).toEqual([]);
  await admin.close();
});

describe("streams and consumer", () => {
  it("keeps a queue in a WorkQueue stream whose duplicate window is the idempotency window, and dead letters apart", async () => {
    const jobs = queue({ idempotencyWindowMs: 2 * 86_400_000, maxJobs: 50, deadLetterMaxAgeMs: 3_600_000 });
    expect(jobs.capabilities).toEqual({
      shared: true,
      idempotencyWindowMs: 2 * 86_400_000,
      maxPayloadBytes: 262_144,
    });
    const q = name("layout");
    const plain = await jobs.enqueue(q, { n: 1 });
    const keyed = await jobs.enqueue(q, { n: 2 }, { maxAttempts: 4, delayMs: 60_000, idempotencyKey: "k" });
    const stored = async (id: string) =>
      (
        await api<{ message: { subject: string; hdrs?: string } }>(
          `$JS.API.STREAM.MSG.GET.${TEST_NAMESPACE}_jobs_${q}`,
          { seq: Number(id.split(".")[1]) },
        )
      ).message;
    // A job with the default attempts, no delay and no key is a message without headers.
    expect(await stored(plain.id)).toMatchObject({ subject: `${TEST_NAMESPACE}.jobs.${q}` });
    expect((await stored(plain.id)).hdrs).toBeUndefined();
    const headers = Buffer.from((await stored(keyed.id)).hdrs ?? "", "base64").toString();
    expect(headers).toMatch(/Job-Max-Attempts: 4\r\n/);
    expect(headers).toMatch(/Job-Not-Before: \d{13}\r\n/);
    expect(headers).toMatch(/Nats-Msg-Id: k:[A-Za-z0-9_-]{43}\r\n/);
    expect(await jobs.cancel(keyed.id)).toBe(true);
    const { config } = await api<{ config: Record<string, unknown> }>(
      `$JS.API.STREAM.INFO.${TEST_NAMESPACE}_jobs_${q}`,
    );
    expect(config).toMatchObject({
      subjects: [`${TEST_NAMESPACE}.jobs.${q}`, `${TEST_NAMESPACE}.jobs.${q}.*`],
      retention: "workqueue",
      discard: "new",
      storage: "file",
      max_msgs: 50,
      duplicate_window: 2 * 86_400_000 * 1e6,
    });
    const seen: JobDelivery[] = [];
    work(
      jobs,
      q,
      async (job) => {
        seen.push(job);
        throw new InfrastructureError("INVALID_ARGUMENT", "bad", { retryable: false });
      },
      { ...FAST, leaseMs: 1_500 },
    );
    await until(async () => (await jobs.listDeadLetters(q)).items.length === 1, "the job is a dead letter");
    const consumer = await api<{ config: Record<string, unknown> }>(
      `$JS.API.CONSUMER.INFO.${TEST_NAMESPACE}_jobs_${q}.workers`,
    );
    expect(consumer.config).toMatchObject({ ack_policy: "explicit", ack_wait: 1_500 * 1e6, max_deliver: -1 });
    const dead = await api<{ config: Record<string, unknown> }>(
      `$JS.API.STREAM.INFO.${TEST_NAMESPACE}_dead_${q}`,
    );
    expect(dead.config).toMatchObject({
      subjects: [`${TEST_NAMESPACE}.dead.${q}.*`],
      retention: "limits",
      max_msgs_per_subject: 1,
      max_age: 3_600_000 * 1e6,
    });
  });

  it("a full queue refuses new jobs with RESOURCE_EXHAUSTED (retryable) and drops none it holds", async () => {
    const jobs = queue({ maxJobs: 2 });
    const q = name("full");
    await jobs.enqueue(q, { n: 1 });
    await jobs.enqueue(q, { n: 2 });
    const error = await expectErrorCode(() => jobs.enqueue(q, { n: 3 }), "RESOURCE_EXHAUSTED");
    expect(error.retryable).toBe(true);
    const handled: unknown[] = [];
    work(
      jobs,
      q,
      async (job) => {
        handled.push(job.payload);
      },
      FAST,
    );
    await until(() => handled.length === 2, "both jobs were handled");
    expect(handled).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
  });

  it("asks for no more deliveries than it has free slots: queued jobs are not leased while handlers are busy", async () => {
    const jobs = queue();
    const q = name("no-prefetch");
    for (let n = 0; n < 10; n++) await jobs.enqueue(q, { n });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    work(
      jobs,
      q,
      async () => {
        started += 1;
        await gate;
      },
      { ...FAST, concurrency: 2 },
    );
    await until(() => started === 2, "two handlers run");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const info = await api<{ num_ack_pending: number; num_pending: number }>(
      `$JS.API.CONSUMER.INFO.${TEST_NAMESPACE}_jobs_${q}.workers`,
    );
    expect(info.num_ack_pending).toBe(2);
    expect(info.num_pending).toBe(8);
    release();
    await until(() => started === 10, "all jobs ran");
  });

  it("deleteQueue removes the streams with their jobs", async () => {
    const jobs = queue();
    const q = name("deleted");
    const { id } = await jobs.enqueue(q, { n: 1 }, { delayMs: 60_000 });
    await jobs.deleteQueue(q);
    for (const stream of [`${TEST_NAMESPACE}_jobs_${q}`, `${TEST_NAMESPACE}_dead_${q}`]) {
      const gone = await api<{ error?: { err_code: number } }>(`$JS.API.STREAM.INFO.${stream}`);
      expect(gone.error?.err_code, stream).toBe(10059);
    }
    expect(await jobs.cancel(id)).toBe(false);
    await jobs.deleteQueue(q);
  });

  it("a worker whose queue is deleted under it makes the queue again and goes on", async () => {
    const jobs = queue();
    const q = name("deleted-under");
    const handled: unknown[] = [];
    work(
      jobs,
      q,
      async (job) => {
        handled.push(job.payload);
      },
      FAST,
    );
    await jobs.enqueue(q, { n: 1 });
    await until(() => handled.length === 1, "the first job was handled");
    await jobs.deleteQueue(q);
    // The worker hears "consumer deleted" on its open pull request and makes the consumer again;
    // the enqueue makes the stream again if it comes first.
    await jobs.enqueue(q, { n: 2 });
    await until(() => handled.length === 2, "a job enqueued after the delete was handled", 20_000);
  });
});

describe("attempts", () => {
  it("counts a delayed job's attempts from its first run, through retries", async () => {
    const jobs = queue();
    const q = name("delay-attempts");
    const attempts: number[] = [];
    work(
      jobs,
      q,
      async (job) => {
        attempts.push(job.attempt);
        if (job.attempt < 3) throw new Error("again");
      },
      FAST,
    );
    await jobs.enqueue(q, { n: 1 }, { delayMs: 300, maxAttempts: 3 });
    await until(() => attempts.length === 3, "three attempts ran");
    expect(attempts).toEqual([1, 2, 3]);
    expect((await jobs.listDeadLetters(q)).items).toEqual([]);
  });

  it("a delayed job taken by a worker that died before postponing it is still on attempt 1", async () => {
    const jobs = queue();
    const q = name("delay-died");
    await makeConsumer(jobs, q);
    const { id } = await jobs.enqueue(q, { n: 1 }, { delayMs: 200 });
    await takeAndDrop(`${TEST_NAMESPACE}_jobs_${q}`);
    const seen: JobDelivery[] = [];
    work(
      jobs,
      q,
      async (job) => {
        seen.push(job);
      },
      FAST,
    );
    await until(() => seen.length === 1, "the job came back after the ack wait");
    expect(seen[0]).toMatchObject({ id, attempt: 1 });
  });

  it("a job whose last attempt's worker died goes to the dead letters, not to a handler", async () => {
    const jobs = queue();
    const q = name("last-lost");
    await makeConsumer(jobs, q);
    const { id } = await jobs.enqueue(q, { keep: "me" }, { maxAttempts: 1 });
    await takeAndDrop(`${TEST_NAMESPACE}_jobs_${q}`);
    const seen: JobDelivery[] = [];
    work(
      jobs,
      q,
      async (job) => {
        seen.push(job);
      },
      FAST,
    );
    await until(async () => (await jobs.listDeadLetters(q)).items.length === 1, "the job is a dead letter");
    const [dead] = (await jobs.listDeadLetters(q)).items;
    expect(dead).toMatchObject({ id, queue: q, payload: { keep: "me" }, attempts: 1 });
    expect(dead?.error.code).toBe("UNAVAILABLE");
    expect(dead?.error.message).toMatch(/lease of attempt 1 ran out/);
    expect(seen).toEqual([]);
  });
});

describe("cancel and redrive", () => {
  it("cancels a redriven job, waiting on its copy", async () => {
    const jobs = queue();
    const q = name("cancel-redriven");
    let fail = true;
    const seen: JobDelivery[] = [];
    const { id } = await jobs.enqueue(q, { n: 1 }, { maxAttempts: 1 });
    const worker = work(
      jobs,
      q,
      async (job) => {
        seen.push(job);
        if (fail) throw new Error("no");
      },
      FAST,
    );
    await until(async () => (await jobs.listDeadLetters(q)).items.length === 1, "the job is a dead letter");
    await worker.close();
    fail = false;
    expect(await jobs.redrive(id)).toBe(true);
    expect(await jobs.cancel(id)).toBe(true);
    expect(await jobs.cancel(id)).toBe(false);
    work(
      jobs,
      q,
      async (job) => {
        seen.push(job);
      },
      FAST,
    );
    const { id: later } = await jobs.enqueue(q, { n: 2 });
    await until(() => seen.some((job) => job.id === later), "a later job ran");
    expect(seen.filter((job) => job.id === id)).toHaveLength(1);
  });

  it("answers false for ids it never made, and for queues that do not exist", async () => {
    const jobs = queue();
    for (const id of ["", "x", "q.", "q.0", "q.1.2", "bad name.1", `${name("none")}.1`]) {
      expect(await jobs.cancel(id), id).toBe(false);
      expect(await jobs.redrive(id), id).toBe(false);
    }
    expect(await jobs.listDeadLetters(name("none"))).toEqual({ items: [] });
    await expectErrorCode(() => jobs.listDeadLetters(name("cursor"), { after: "abc" }), "INVALID_ARGUMENT");
  });
});

describe("options and lifecycle", () => {
  it("refuses bad options with INVALID_ARGUMENT", async () => {
    for (const options of [
      { namespace: "a_b" },
      { timeoutMs: 0 },
      { idempotencyWindowMs: 999 },
      { maxPayloadBytes: 0 },
      { replicas: 0 },
      { maxJobs: 0 },
      { maxAckPending: 1.5 },
      { deadLetterMaxAgeMs: -1 },
      { storage: "disk" as "file" },
    ]) {
      await expectErrorCode(() => openQueue(options), "INVALID_ARGUMENT");
    }
    const jobs = queue();
    const q = name("close-options");
    const worker = work(jobs, q, async () => undefined, FAST);
    await expectErrorCode(() => worker.close({ deadlineMs: -1 }), "INVALID_ARGUMENT");
    await worker.close({ deadlineMs: 0 });
  });

  it("fails fast with UNAVAILABLE (not sent) when nothing listens, and tells onError", async () => {
    const errors: InfrastructureError[] = [];
    const jobs = queue({ servers: "127.0.0.1:1", onError: (error) => errors.push(error) });
    await until(() => errors.length > 0, "onError heard of the failed connection");
    const error = await expectErrorCode(
      () => jobs.enqueue("q", { n: 1 }, { timeoutMs: 5_000 }),
      "UNAVAILABLE",
    );
    expect(error.retryable).toBe(true);
    expect(error.details.outcome).toBeUndefined();
    expect(errors[0]?.code).toBe("UNAVAILABLE");
    const started = Date.now();
    await jobs.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expectErrorCode(() => jobs.enqueue("q", { n: 1 }), "CLOSED");
  });

  it("connects again when the client gives its connection up, and its workers go on", async () => {
    const errors: InfrastructureError[] = [];
    const jobs = queue({ onError: (error) => errors.push(error) });
    const q = name("given-up");
    const seen: unknown[] = [];
    work(
      jobs,
      q,
      async (job) => {
        seen.push(job.payload);
      },
      FAST,
    );
    await jobs.enqueue(q, { n: 1 });
    await until(() => seen.length === 1, "the first job was handled");
    const first = jobs.connection;
    // What nats.js does after repeated authentication errors: it closes the connection for good.
    await first?.close();
    await until(
      () => jobs.connection !== undefined && jobs.connection !== first,
      "a new connection was made",
    );
    await jobs.enqueue(q, { n: 2 });
    await until(() => seen.length === 2, "a job after the new connection was handled");
    expect(errors.map((error) => error.message)).toContain(
      "the NATS connection was closed by the client; connecting again",
    );
  });

  it("tells a call waiting for the first connection TIMEOUT at its deadline, not sent", async () => {
    // A port that accepts and never answers: the NATS handshake never completes.
    const { createServer } = await import("node:net");
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const jobs = queue({ servers: `127.0.0.1:${port}`, connection: { timeout: 60_000 } });
      const started = Date.now();
      const error = await expectErrorCode(() => jobs.enqueue("q", { n: 1 }, { timeoutMs: 300 }), "TIMEOUT");
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/not sent/);
      await jobs.close();
    } finally {
      silent.close();
    }
  });

  it("a handler's signal fires CANCELLED when its job is cancelled, and no outcome is sent for it", async () => {
    const jobs = queue();
    const q = name("cancel-signal");
    const reasons: unknown[] = [];
    const { id } = await jobs.enqueue(q, { n: 1 });
    work(
      jobs,
      q,
      (job) =>
        new Promise<void>((resolve) => {
          job.signal.addEventListener("abort", () => {
            reasons.push(job.signal.reason);
            resolve();
          });
        }),
      FAST,
    );
    await until(async () => {
      const info = await api<{ num_ack_pending: number }>(
        `$JS.API.CONSUMER.INFO.${TEST_NAMESPACE}_jobs_${q}.workers`,
      );
      return info.num_ack_pending === 1;
    }, "the job is running");
    expect(await jobs.cancel(id)).toBe(true);
    await until(() => reasons.length === 1, "the signal fired", 3_000);
    expect(isInfrastructureError(reasons[0], "CANCELLED")).toBe(true);
  });
});
