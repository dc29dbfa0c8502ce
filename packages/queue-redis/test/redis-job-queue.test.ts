import { expectErrorCode, FaultProxy, sleep, uniqueName } from "@proj/contract-tests";
import { isInfrastructureError, isOutcomeUnknown, type JobDelivery, type JobWorker } from "@proj/ports";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { RedisJobQueue } from "../src/index.js";
import { createRedisJobQueue } from "../src/index.js";
import { dropQueue, openQueue, REDIS_URL, TEST_NAMESPACE, UNREACHABLE_URL } from "./support/redis.js";

const target = new URL(REDIS_URL);
const LEASE_MS = 1_000;
const BACKOFF = { initialMs: 20, maxMs: 200 };

/** Polls `probe` until true; fails naming `what` after `ms`. */
async function until(probe: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe("RedisJobQueue", () => {
  const queues: RedisJobQueue[] = [];
  const workers: JobWorker[] = [];
  const names: Array<[string, string]> = [];
  const proxies: FaultProxy[] = [];
  const direct = new Redis(REDIS_URL, { lazyConnect: true });

  const open = (options: Parameters<typeof openQueue>[0] = {}): RedisJobQueue => {
    const queue = openQueue(options);
    queues.push(queue);
    return queue;
  };
  const name = (prefix: string, namespace = TEST_NAMESPACE): string => {
    const queue = uniqueName(prefix);
    names.push([queue, namespace]);
    return queue;
  };
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close({ deadlineMs: 0 })));
    await Promise.all(queues.splice(0).map((queue) => queue.close()));
    await Promise.all(names.splice(0).map(([queue, namespace]) => dropQueue(queue, namespace)));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  afterAll(() => direct.disconnect());

  it("refuses a bad namespace, timeout, window or payload limit with INVALID_ARGUMENT", async () => {
    for (const options of [
      { namespace: "" },
      { namespace: "a:b" },
      { namespace: "x".repeat(65) },
      { timeoutMs: 0 },
      { timeoutMs: 1.5 },
      { idempotencyWindowMs: -1 },
      { maxPayloadBytes: 0 },
    ]) {
      await expectErrorCode(() => createRedisJobQueue({ url: REDIS_URL, ...options }), "INVALID_ARGUMENT");
    }
    const queue = open({ idempotencyWindowMs: 5_000, maxPayloadBytes: 100 });
    expect(queue.capabilities).toEqual({ shared: true, idempotencyWindowMs: 5_000, maxPayloadBytes: 100 });
    expect(queue.namespace).toBe(TEST_NAMESPACE);
  });

  it("keeps its keys under namespace:queue, ids as queue:<BullMQ id>; another namespace sees nothing", async () => {
    const namespace = uniqueName("ns");
    const mine = open({ namespace });
    const other = open();
    const queue = name("iso", namespace);
    names.push([queue, TEST_NAMESPACE]);
    const { id } = await mine.enqueue(queue, { n: 1 });
    // BullMQ's counter without a key; a UUID of the adapter's making with one.
    expect(id).toMatch(new RegExp(`^${queue}:[0-9]+$`));
    const keyed = await mine.enqueue(queue, { n: 2 }, { idempotencyKey: "k" });
    expect(keyed.id).toMatch(new RegExp(`^${queue}:[0-9a-f-]{36}$`));
    expect(await mine.cancel(keyed.id)).toBe(true);
    await direct.connect().catch(() => undefined);
    const keys = await direct.keys(`${namespace}:${queue}:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(await direct.keys(`${TEST_NAMESPACE}:${queue}:*`)).toEqual([]);
    const seen: string[] = [];
    workers.push(other.work(queue, async (job) => void seen.push(job.id), { leaseMs: LEASE_MS }));
    await sleep(1_000);
    expect(seen, "a worker in another namespace took the job").toEqual([]);
    expect(await other.cancel(id), "cancel through another namespace").toBe(false);
    expect(await mine.cancel(id)).toBe(true);
  });

  it("forgets an idempotency key after idempotencyWindowMs, not before", async () => {
    const queue = open({ idempotencyWindowMs: 1_500 });
    const q = name("window");
    const first = await queue.enqueue(q, { n: 1 }, { idempotencyKey: "k" });
    const again = await queue.enqueue(q, { n: 2 }, { idempotencyKey: "k" });
    expect(again).toEqual({ id: first.id, duplicate: true });
    await sleep(1_700);
    const later = await queue.enqueue(q, { n: 3 }, { idempotencyKey: "k" });
    expect(later.duplicate).toBe(false);
    expect(later.id).not.toBe(first.id);
  });

  it("a cancelled job's key still answers with its id, while the job is gone", async () => {
    const queue = open();
    const q = name("cancel-key");
    const first = await queue.enqueue(q, { n: 1 }, { idempotencyKey: "k", delayMs: 60_000 });
    expect(await queue.cancel(first.id)).toBe(true);
    expect(await queue.cancel(first.id), "a second cancel").toBe(false);
    expect(await queue.enqueue(q, { n: 2 }, { idempotencyKey: "k" })).toEqual({
      id: first.id,
      duplicate: true,
    });
    await direct.connect().catch(() => undefined);
    expect(await direct.exists(`${TEST_NAMESPACE}:${q}:${first.id.split(":")[1]}`)).toBe(0);
  });

  it("cancel and redrive return false for ids this adapter never made; refuse a non-string", async () => {
    const queue = open();
    for (const id of ["no-colon", "bad queue:x", "q:has:colon", "q:", ":x", "q:ünïcode"]) {
      expect(await queue.cancel(id), id).toBe(false);
      expect(await queue.redrive(id), id).toBe(false);
    }
    await expectErrorCode(() => queue.cancel(""), "INVALID_ARGUMENT");
    await expectErrorCode(() => queue.cancel(42 as unknown as string), "INVALID_ARGUMENT");
    await expectErrorCode(() => queue.listDeadLetters(name("cursor"), { after: "%%%" }), "INVALID_ARGUMENT");
    await expectErrorCode(
      () => queue.listDeadLetters(name("cursor"), { after: Buffer.from("x:y").toString("base64url") }),
      "INVALID_ARGUMENT",
    );
  });

  it("fires the handler's signal with UNAVAILABLE when its lock is taken away, at the next renewal", async () => {
    const queue = open();
    const q = name("lost");
    const reason: unknown[] = [];
    let started = 0;
    const { id } = await queue.enqueue(q, { n: 1 });
    workers.push(
      queue.work(
        q,
        (job: JobDelivery) =>
          new Promise<void>((resolve) => {
            started = Date.now();
            job.signal.addEventListener("abort", () => {
              reason.push(job.signal.reason);
              resolve();
            });
          }),
        { leaseMs: LEASE_MS, backoff: BACKOFF },
      ),
    );
    await until(() => started > 0, "the job started");
    await direct.connect().catch(() => undefined);
    // What another worker does when it takes over a job whose lease ran out.
    await direct.set(`${TEST_NAMESPACE}:${q}:${id.split(":")[1]}:lock`, "someone-else", "PX", 60_000);
    await until(() => reason.length > 0, "the signal fired", LEASE_MS + 1_000);
    expect(Date.now() - started).toBeLessThan(LEASE_MS + 1_000);
    expect(isInfrastructureError(reason[0], "UNAVAILABLE"), String(reason[0])).toBe(true);
  });

  it("dead-letters, without running it, a job whose last attempt was released (UNAVAILABLE, attempts = maxAttempts)", async () => {
    const queue = open();
    const q = name("last-attempt");
    const { id } = await queue.enqueue(q, { n: 1 }, { maxAttempts: 1 });
    let runs = 0;
    const first = queue.work(
      q,
      () => {
        runs += 1;
        return new Promise<void>(() => undefined);
      },
      { leaseMs: LEASE_MS },
    );
    await until(() => runs === 1, "the first attempt started");
    await first.close({ deadlineMs: 0 });
    workers.push(
      queue.work(
        q,
        async () => {
          runs += 1;
        },
        { leaseMs: LEASE_MS },
      ),
    );
    await until(async () => (await queue.listDeadLetters(q)).items.length === 1, "the job was dead-lettered");
    const [letter] = (await queue.listDeadLetters(q)).items;
    expect(letter).toMatchObject({ id, attempts: 1, payload: { n: 1 }, error: { code: "UNAVAILABLE" } });
    expect(runs, "the handler ran again past maxAttempts").toBe(1);
  });

  it("pages dead letters that failed in the same millisecond by id, each once", async () => {
    const queue = open();
    const q = name("same-ms");
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add((await queue.enqueue(q, { i }, { maxAttempts: 1 })).id);
    workers.push(
      queue.work(
        q,
        async () => {
          throw new Error("no");
        },
        { leaseMs: LEASE_MS, concurrency: 4 },
      ),
    );
    await until(async () => (await queue.listDeadLetters(q)).items.length === 12, "all were dead-lettered");
    await direct.connect().catch(() => undefined);
    const failedKey = `${TEST_NAMESPACE}:${q}:failed`;
    for (const id of ids) await direct.zadd(failedKey, "XX", 1_700_000_000_000, id.split(":")[1] as string);
    const listed: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await queue.listDeadLetters(q, { limit: 5, ...(after ? { after } : {}) });
      listed.push(...page.items.map((item) => item.id));
      after = page.nextCursor;
      pages += 1;
    } while (after !== undefined);
    expect(pages).toBe(3);
    expect(listed.length).toBe(12);
    expect(new Set(listed)).toEqual(ids);
  });

  it("fails at once with UNAVAILABLE (not sent, retryable) when Redis refuses connections", async () => {
    const queue = open({ url: UNREACHABLE_URL, timeoutMs: 5_000 });
    await sleep(300);
    const started = Date.now();
    const error = await expectErrorCode(() => queue.enqueue(name("down"), { n: 1 }), "UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.retryable).toBe(true);
    expect(isOutcomeUnknown(error)).toBe(false);
    const worker = queue.work(name("down"), async () => undefined, { leaseMs: LEASE_MS });
    const closing = Date.now();
    await queue.close();
    await worker.close();
    expect(Date.now() - closing, "close() with Redis down").toBeLessThan(3_000);
  });

  it("bounds cancel, listDeadLetters and redrive by their deadline on a silent network", async () => {
    const proxy = await FaultProxy.start({
      target: { host: target.hostname, port: Number(target.port || 6379) },
    });
    proxies.push(proxy);
    const queue = open({ url: `redis://${proxy.host}:${proxy.port}`, timeoutMs: 500 });
    const q = name("silent");
    const { id } = await queue.enqueue(q, { n: 1 }, { delayMs: 60_000 });
    await proxy.set("silent");
    for (const [what, call, unknown] of [
      ["cancel", () => queue.cancel(id), true],
      ["listDeadLetters", () => queue.listDeadLetters(q), false],
      ["redrive", () => queue.redrive(id), false],
    ] as const) {
      const started = Date.now();
      const error = await expectErrorCode(call, "TIMEOUT");
      expect(Date.now() - started, what).toBeLessThan(2_000);
      expect(isOutcomeUnknown(error), `${what}: ${error.message}`).toBe(unknown);
    }
    const started = Date.now();
    await expectErrorCode(() => queue.cancel(id, { timeoutMs: 200 }), "TIMEOUT");
    expect(Date.now() - started, "a per-call timeoutMs").toBeLessThan(1_000);
    await proxy.heal();
    await until(
      async () => (await queue.cancel(id).catch(() => undefined)) !== undefined,
      "cancel served again",
    );
  });

  it("drops a connection whose replies went missing for a whole deadline: the next enqueue gets its own reply, on a new connection", async () => {
    const proxy = await FaultProxy.start({
      target: { host: target.hostname, port: Number(target.port || 6379) },
    });
    proxies.push(proxy);
    const queue = open({ url: `redis://${proxy.host}:${proxy.port}`, timeoutMs: 300 });
    const q = name("lost-replies");
    await queue.enqueue(q, { n: "before" });
    proxy.resetCounters();
    // The command reaches Redis (the job is added); its reply never comes back.
    await proxy.set("lose-replies");
    const lost = await expectErrorCode(() => queue.enqueue(q, { n: "lost" }), "TIMEOUT");
    expect(isOutcomeUnknown(lost)).toBe(true);
    await proxy.heal();
    await direct.connect().catch(() => undefined);
    // On the old connection, each reply would answer the command before it: "after" would get the
    // id of "lost", and "later" the id of "after".
    for (const n of ["after", "later"]) {
      const { id } = await queue.enqueue(q, { n });
      expect(await direct.hget(`${TEST_NAMESPACE}:${q}:${id.split(":")[1]}`, "data"), n).toBe(
        JSON.stringify({ n }),
      );
    }
    expect(proxy.acceptedConnections, "a new connection").toBeGreaterThanOrEqual(1);
  });

  it("an aborted signal cancels a pending call with CANCELLED", async () => {
    const proxy = await FaultProxy.start({
      target: { host: target.hostname, port: Number(target.port || 6379) },
    });
    proxies.push(proxy);
    const queue = open({ url: `redis://${proxy.host}:${proxy.port}` });
    const q = name("abort");
    await queue.enqueue(q, { n: 1 });
    await proxy.set("silent");
    const controller = new AbortController();
    const pending = queue.enqueue(q, { n: 2 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await expectErrorCode(pending, "CANCELLED");
    // Sent before the abort: whether Redis added it is unknown.
    expect(isOutcomeUnknown(error)).toBe(true);
  });
  it("a worker whose signal has already fired closes at once and takes nothing", async () => {
    const queue = open();
    const q = name("pre-aborted");
    await queue.enqueue(q, { n: 1 });
    const seen: string[] = [];
    const worker = queue.work(
      q,
      async (job) => {
        seen.push(job.id);
      },
      { leaseMs: LEASE_MS, signal: AbortSignal.abort() },
    );
    await worker.close();
    await sleep(500);
    expect(seen).toEqual([]);
  });
});
