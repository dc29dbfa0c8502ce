import { expectFailsWithin, type FaultProxy, startFaultProxy, uniqueName } from "@proj/contract-tests";
import { isInfrastructureError, isOutcomeUnknown, type JobDelivery, type JobWorker } from "@proj/ports";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NatsJobQueue } from "../src/index.js";
import { dropNamespace, dropQueue, NATS_SERVERS, openQueue } from "./support/nats.js";

const [host = "127.0.0.1", port = "4222"] = NATS_SERVERS.replace(/^nats:\/\//, "").split(":");
const LEASE_MS = 1_000;
const BACKOFF = { initialMs: 20, maxMs: 200 };

let proxy: FaultProxy;
let q: string;
const opened: NatsJobQueue[] = [];
const workers: JobWorker[] = [];

function throughProxy(): NatsJobQueue {
  const made = openQueue({ servers: `${proxy.host}:${proxy.port}`, timeoutMs: 2_000 });
  opened.push(made);
  return made;
}

function direct(): NatsJobQueue {
  const made = openQueue();
  opened.push(made);
  return made;
}

async function until(probe: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeEach(async () => {
  proxy = await startFaultProxy({ target: { host, port: Number(port) } });
  q = uniqueName("fault");
});

afterEach(async () => {
  await proxy.heal();
  await Promise.allSettled(workers.splice(0).map((worker) => worker.close({ deadlineMs: 0 })));
  await Promise.allSettled(opened.splice(0).map((made) => made.close()));
  await dropQueue(q);
  await proxy.close();
});

afterAll(async () => {
  expect(await dropNamespace()).toEqual([]);
});

describe("NATS job queue under faults", () => {
  it("a lease that cannot be renewed fires the handler's signal with UNAVAILABLE; the job comes back as attempt 2", async () => {
    const reasons: unknown[] = [];
    const seen: JobDelivery[] = [];
    const worker = throughProxy();
    workers.push(
      worker.work(
        q,
        (job) =>
          new Promise<void>((_resolve, reject) => {
            seen.push(job);
            job.signal.addEventListener("abort", () => {
              reasons.push(job.signal.reason);
              reject(job.signal.reason);
            });
          }),
        { leaseMs: LEASE_MS, backoff: BACKOFF },
      ),
    );
    const producer = direct();
    const { id } = await producer.enqueue(q, { n: 1 });
    await until(() => seen.length === 1, "the job started", 10_000);
    const cutAt = Date.now();
    await proxy.set("outage");
    await until(() => reasons.length === 1, "the handler's signal fired", LEASE_MS + 2_000);
    expect(Date.now() - cutAt).toBeLessThanOrEqual(LEASE_MS + 1_500);
    expect(isInfrastructureError(reasons[0], "UNAVAILABLE"), String(reasons[0])).toBe(true);
    const again: JobDelivery[] = [];
    workers.push(
      producer.work(
        q,
        async (job) => {
          again.push(job);
        },
        { leaseMs: LEASE_MS, backoff: BACKOFF },
      ),
    );
    await until(() => again.length === 1, "another worker got the job", LEASE_MS + 5_000);
    expect(again[0]).toMatchObject({ id, attempt: 2, payload: { n: 1 } });
  });

  it("a worker on a network gone silent takes jobs again once it is back", async () => {
    const seen: unknown[] = [];
    const worker = throughProxy();
    workers.push(
      worker.work(
        q,
        async (job) => {
          seen.push(job.payload);
        },
        { leaseMs: LEASE_MS, backoff: BACKOFF },
      ),
    );
    const producer = direct();
    await producer.enqueue(q, { n: 1 });
    await until(() => seen.length === 1, "the first job was handled", 10_000);
    await proxy.set("silent");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await producer.enqueue(q, { n: 2 });
    await proxy.heal();
    // Within two heartbeat periods of silence the worker asks afresh; the client's pings replace
    // a connection that stays dark.
    await until(() => seen.length === 2, "the job enqueued in the silence was handled", 40_000);
    await producer.enqueue(q, { n: 3 });
    await until(() => seen.length === 3, "a job after the silence was handled", 10_000);
  }, 60_000);

  it("a cancel whose reply is lost has an unknown outcome; a listing whose reply is lost is a plain TIMEOUT", async () => {
    const jobs = throughProxy();
    const { id } = await jobs.enqueue(q, { n: 1 }, { delayMs: 60_000 });
    await proxy.set("lose-replies");
    const cancel = await expectFailsWithin(jobs.cancel(id, { timeoutMs: 500 }), 3_000, "TIMEOUT", "cancel");
    expect(isOutcomeUnknown(cancel)).toBe(true);
    expect(cancel.retryable).toBe(false);
    const list = await expectFailsWithin(
      jobs.listDeadLetters(q, { timeoutMs: 500 }),
      3_000,
      "TIMEOUT",
      "list",
    );
    expect(isOutcomeUnknown(list)).toBe(false);
    expect(list.retryable).toBe(true);
    await proxy.heal();
    // The lost cancel did reach the server: the job is gone.
    expect(await direct().cancel(id)).toBe(false);
  });
});
