import {
  isOutcomeUnknown,
  type JobDelivery,
  type JobQueue,
  type JobWorker,
  type JsonValue,
} from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep, uniqueName } from "../harness.js";
import { FaultProxy } from "./fault-proxy.js";
import { expectFailsWithin, expectRecoversWithin, expectSettlesWithin } from "./settle.js";

/** The bounds a `JobQueue` adapter documents, as `create` configures them. */
export interface JobQueueFaultDeadlines {
  /** The deadline every call (`enqueue`, `cancel`, …) gets by default, waiting for a connection included. */
  readonly callMs: number;
  /**
   * Once the network is back, calls succeed again and a worker takes jobs again within this
   * (reconnect back-off and the worker's own retry delays included).
   */
  readonly recoverMs: number;
  /** How long `JobQueue.close()` may take while the broker cannot be reached. Default `callMs`. */
  readonly closeMs?: number;
}

/** What a `JobQueue` adapter over the network hands `jobQueueFaultContract`. */
export interface JobQueueFaultHarness {
  /** The real broker's TCP address; the suite starts a `FaultProxy` in front of it for each test. */
  target(): { host: string; port: number };
  /**
   * A fresh adapter that reaches the broker only at `endpoint` (the proxy, or `target()` itself for
   * a view that no fault touches), with the deadlines below. Every adapter a test makes shares the
   * broker's data: a job enqueued on one is handled by a worker of another (same namespace).
   */
  create(endpoint: { host: string; port: number }): Promise<JobQueue>;
  /** Closes an adapter the suite made (default `close()`); some are closed already. */
  destroy?(queue: JobQueue): Promise<void>;
  /** Removes what a test left for a queue name on the broker (stream, queue, keys, rows). */
  dropQueue?(queue: string): Promise<void>;
  readonly deadlines: JobQueueFaultDeadlines;
  /** How late a delayed job, a retry or a redelivery may come beyond its due time, in ms (default 1000). */
  readonly resolutionMs?: number;
}

/** Headroom on every bound: a loaded 2-core machine answers late, a hang never answers. */
const MARGIN_MS = 4_000;
/** The lease of the suite's workers: a job whose acknowledgement was lost comes back after it. */
const LEASE_MS = 2_000;
const BACKOFF = { initialMs: 20, maxMs: 200 };

/** Polls `probe` until it is true or `boundMs` runs out; fails the test with `what` then. */
async function waitUntil(probe: () => boolean, boundMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what()} (waited ${boundMs} ms)`);
    await sleep(25);
  }
}

/** Deliveries a worker's handler saw, by job id. */
class Handled {
  readonly byId = new Map<string, JsonValue[]>();
  count = 0;

  /** `work` runs `first` (if any) before recording a delivery as handled. */
  constructor(readonly first?: (job: JobDelivery) => Promise<void>) {}

  readonly handler = async (job: JobDelivery): Promise<void> => {
    await this.first?.(job);
    this.count += 1;
    const seen = this.byId.get(job.id) ?? [];
    seen.push(job.payload);
    this.byId.set(job.id, seen);
  };

  has(id: string): boolean {
    return this.byId.has(id);
  }

  missing(ids: Iterable<string>): string[] {
    return [...ids].filter((id) => !this.byId.has(id));
  }
}

/**
 * Certifies that a `JobQueue` adapter holds under network faults. With a `FaultProxy` between the
 * adapter and its real broker, each case checks that a call settles within a bound derived from the
 * adapter's documented deadlines with a taxonomy code (never hangs), that an `enqueue` whose reply
 * was lost says its outcome is unknown and that retrying it with its idempotency key ends with one
 * job handled, that a worker rides out an outage without being restarted and handles what comes
 * after it, that `close()` settles while the broker is gone, and that no accepted job is lost
 * (counted by id) while connections are cut under a stream of enqueues.
 */
export function jobQueueFaultContract(name: string, harness: JobQueueFaultHarness): void {
  const { callMs, recoverMs, closeMs = callMs } = harness.deadlines;
  const resolutionMs = harness.resolutionMs ?? 1_000;
  /** A call that meets a fault settles within this. */
  const callBound = callMs + MARGIN_MS;
  /** Once the fault ends, the adapter serves again within this. */
  const recoverBound = recoverMs + callMs + MARGIN_MS;
  /** A job enqueued once the network is back is handled within this. */
  const handleBound = recoverBound + LEASE_MS + resolutionMs;
  const testTimeout = 4 * callBound + 3 * handleBound + 20_000;

  describe(`JobQueue faults: ${name}`, () => {
    let proxy: FaultProxy | undefined;
    let queueName = "";
    const adapters: JobQueue[] = [];
    const workers: JobWorker[] = [];

    beforeEach(async () => {
      proxy = await FaultProxy.start({ target: harness.target() });
      queueName = uniqueName("jobfault");
    });

    afterEach(async () => {
      await proxy?.heal().catch(() => undefined);
      await Promise.all(
        workers.splice(0).map((worker) => worker.close({ deadlineMs: 0 }).catch(() => undefined)),
      );
      await Promise.all(
        adapters
          .splice(0)
          .map((adapter) =>
            (harness.destroy ? harness.destroy(adapter) : adapter.close()).catch(() => undefined),
          ),
      );
      await harness.dropQueue?.(queueName);
      await proxy?.close();
      proxy = undefined;
    }, testTimeout);

    const current = (): FaultProxy => {
      if (proxy === undefined) throw new Error("only inside a test");
      return proxy;
    };
    /** An adapter whose every connection goes through the proxy. */
    const throughProxy = async (): Promise<JobQueue> => {
      const adapter = await harness.create({ host: current().host, port: current().port });
      adapters.push(adapter);
      return adapter;
    };
    /** An adapter straight to the broker: the suite's view, untouched by the faults. */
    const direct = async (): Promise<JobQueue> => {
      const adapter = await harness.create(harness.target());
      adapters.push(adapter);
      return adapter;
    };
    const startWorker = (adapter: JobQueue, handled: Handled, concurrency = 4): JobWorker => {
      const worker = adapter.work(queueName, handled.handler, {
        concurrency,
        leaseMs: LEASE_MS,
        backoff: BACKOFF,
      });
      workers.push(worker);
      return worker;
    };

    it(
      "enqueue during an outage fails within its deadline with UNAVAILABLE or TIMEOUT, without a loop of reconnects, and succeeds after it",
      async () => {
        const proxy = current();
        const producer = await throughProxy();
        await producer.enqueue(queueName, { step: "before" });
        await proxy.set("outage-reset");
        proxy.resetCounters();
        await expectFailsWithin(
          producer.enqueue(queueName, { step: "during" }),
          callBound,
          ["UNAVAILABLE", "TIMEOUT"],
          "an enqueue while the broker refuses connections",
        );
        await sleep(3_000);
        // Connection attempts back off: a loop would make hundreds in three seconds.
        expect(proxy.rejectedConnections, "connection attempts while the broker was down").toBeLessThan(40);
        await expectFailsWithin(
          producer.enqueue(queueName, { step: "still during" }),
          callBound,
          ["UNAVAILABLE", "TIMEOUT"],
          "a second enqueue, still in the outage",
        );
        await proxy.heal();
        const after = await expectRecoversWithin(
          () => producer.enqueue(queueName, { step: "after" }),
          recoverBound,
          {
            what: "enqueue after the outage",
          },
        );
        expect(after.duplicate).toBe(false);
      },
      testTimeout,
    );

    it(
      "enqueue on a network gone silent fails with TIMEOUT within its deadline, then succeeds once it is back",
      async () => {
        const proxy = current();
        const producer = await throughProxy();
        await producer.enqueue(queueName, { step: "before" });
        await proxy.set("silent");
        const error = await expectFailsWithin(
          producer.enqueue(queueName, { step: "during" }),
          callBound,
          ["TIMEOUT", "UNAVAILABLE"],
          "an enqueue on a silent network",
        );
        // Sent and unanswered, or never sent: either way the caller is told which.
        if (isOutcomeUnknown(error)) expect(error.retryable).toBe(false);
        await proxy.heal();
        await expectRecoversWithin(() => producer.enqueue(queueName, { step: "after" }), recoverBound, {
          what: "enqueue after the silence",
        });
      },
      testTimeout,
    );

    it(
      "a lost reply on enqueue is an unknown outcome; retrying with the same idempotency key ends with exactly one job handled",
      async () => {
        const proxy = current();
        const producer = await throughProxy();
        const handled = new Handled();
        startWorker(await direct(), handled);
        await producer.enqueue(queueName, { step: "warm-up" });
        await waitUntil(
          () => handled.count >= 1,
          handleBound,
          () => "the warm-up job was not handled",
        );
        await proxy.set("lose-replies");
        const key = uniqueName("key");
        const payload = { step: "lost reply", key };
        const error = await expectFailsWithin(
          producer.enqueue(queueName, payload, { idempotencyKey: key }),
          callBound,
          ["TIMEOUT", "UNAVAILABLE"],
          "an enqueue whose reply is lost",
        );
        expect(isOutcomeUnknown(error), `expected details.outcome "unknown": ${error.message}`).toBe(true);
        expect(error.retryable).toBe(false);
        await proxy.heal();
        const retried = await expectRecoversWithin(
          () => producer.enqueue(queueName, payload, { idempotencyKey: key }),
          recoverBound,
          { what: "the retried enqueue" },
        );
        const ofKey = () =>
          [...handled.byId.entries()].filter(([, payloads]) =>
            payloads.some((seen) => (seen as { key?: string } | null)?.key === key),
          );
        await waitUntil(
          () => ofKey().length >= 1,
          handleBound,
          () => "the job of the retried enqueue was not handled",
        );
        // Whatever became of the first attempt, a second job would show up within this.
        await sleep(LEASE_MS + resolutionMs);
        const jobs = ofKey();
        expect(
          jobs.map(([id]) => id),
          "jobs handled for the one idempotency key",
        ).toEqual([retried.id]);
      },
      testTimeout,
    );

    it(
      "a worker that loses the broker mid-run keeps going without a restart: every job is handled, those enqueued after the outage too",
      async () => {
        const proxy = current();
        const producer = await direct();
        const worker = await throughProxy();
        let slow = 0;
        const handled = new Handled(async (job) => {
          // Keep handlers running while the connection goes.
          if ((job.payload as { slow?: boolean }).slow) {
            slow += 1;
            await sleep(300);
          }
        });
        startWorker(worker, handled);
        const before: string[] = [];
        for (let i = 0; i < 8; i++) before.push((await producer.enqueue(queueName, { slow: true, i })).id);
        await waitUntil(
          () => slow >= 1,
          handleBound,
          () => "the worker took no job before the outage",
        );
        await proxy.set("outage");
        await sleep(Math.min(LEASE_MS, 2_000));
        await proxy.heal();
        const after: string[] = [];
        for (let i = 0; i < 20; i++) after.push((await producer.enqueue(queueName, { after: i })).id);
        await waitUntil(
          () => handled.missing([...before, ...after]).length === 0,
          handleBound + 8 * 300,
          () => `jobs never handled after the outage: ${handled.missing([...before, ...after]).join(", ")}`,
        );
        expect(handled.missing(after)).toEqual([]);
        expect(handled.missing(before)).toEqual([]);
      },
      testTimeout,
    );

    it(
      "close() settles within its bound while the broker is unreachable, and every call is CLOSED after it",
      async () => {
        const proxy = current();
        const adapter = await throughProxy();
        const handled = new Handled();
        const worker = startWorker(adapter, handled);
        await adapter.enqueue(queueName, { step: "before" });
        await waitUntil(
          () => handled.count >= 1,
          handleBound,
          () => "the job before the outage was not handled",
        );
        await proxy.set("outage");
        await sleep(200);
        const closing = await expectSettlesWithin(
          adapter.close(),
          closeMs + MARGIN_MS,
          "close() in an outage",
        );
        expect(closing.ok, closing.ok ? "" : closing.error.message).toBe(true);
        await expectSettlesWithin(worker.close(), MARGIN_MS, "the worker's close() after the adapter's");
        await expectFailsWithin(
          adapter.enqueue(queueName, { step: "after" }),
          MARGIN_MS,
          "CLOSED",
          "enqueue after close",
        );
      },
      testTimeout,
    );

    it(
      "close() settles within its bound on a network gone silent",
      async () => {
        const proxy = current();
        const adapter = await throughProxy();
        const handled = new Handled();
        startWorker(adapter, handled);
        await adapter.enqueue(queueName, { step: "before" });
        await waitUntil(
          () => handled.count >= 1,
          handleBound,
          () => "the job before the silence was not handled",
        );
        await proxy.set("silent");
        await sleep(200);
        const closing = await expectSettlesWithin(
          adapter.close(),
          closeMs + MARGIN_MS,
          "close() on a silent network",
        );
        expect(closing.ok, closing.ok ? "" : closing.error.message).toBe(true);
      },
      testTimeout,
    );

    it(
      "no accepted job is lost while connections are cut under a stream of enqueues (counted by id)",
      async () => {
        const proxy = current();
        const producer = await throughProxy();
        const handled = new Handled();
        startWorker(await throughProxy(), handled, 8);
        const total = 200;
        const accepted = new Map<number, string>();
        let unknownOutcomes = 0;
        const enqueueOne = async (n: number): Promise<void> => {
          const key = `${queueName}-${n}`;
          const result = await expectRecoversWithin(
            async () => {
              try {
                // Many attempts: a delivery cut on its way to the worker may count as an attempt
                // (the port allows it), and this case counts loss, not attempts used up.
                return await producer.enqueue(queueName, { n }, { idempotencyKey: key, maxAttempts: 1000 });
              } catch (error) {
                if (isOutcomeUnknown(error)) unknownOutcomes += 1;
                throw error;
              }
            },
            recoverBound,
            { what: `enqueue of job ${n}` },
          );
          accepted.set(n, result.id);
        };
        // Cuts land while enqueues are in flight: some replies are lost after the broker acted.
        // Every 300 ms: at 150 ms a loaded two-core machine could not open a PostgreSQL connection
        // (a backend forked per connection) and run an enqueue between two cuts within 11.5 s.
        const cutter = setInterval(() => proxy.cutAll("reset"), 300);
        let next = 0;
        const lanes = Array.from({ length: 4 }, async () => {
          while (next < total) await enqueueOne(next++);
        });
        await Promise.all(lanes).finally(() => clearInterval(cutter));
        expect(accepted.size).toBe(total);
        // One job per key: a retried enqueue never made a second job.
        expect(new Set(accepted.values()).size, `${unknownOutcomes} enqueues had unknown outcomes`).toBe(
          total,
        );
        await waitUntil(
          () => handled.missing(accepted.values()).length === 0,
          handleBound + total * 50,
          () => `accepted jobs never handled: ${handled.missing(accepted.values()).join(", ")}`,
        );
        const extra = [...handled.byId.keys()].filter((id) => ![...accepted.values()].includes(id));
        expect(extra, "jobs handled that no enqueue accepted").toEqual([]);
      },
      testTimeout,
    );
  });
}
