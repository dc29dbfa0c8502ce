import type { JobDelivery, JobHandler, JobQueue, JobWorker, JsonValue, WorkOptions } from "@proj/ports";
import { uniqueName } from "../harness.js";

/**
 * What a `JobQueue` adapter hands the jobs contract.
 *
 * Tests use queue names of their own (`uniqueName`), so every adapter the harness creates may share
 * one backend: a second `create()` is how a test gets "another process" on a shared adapter.
 */
export interface JobQueueHarness {
  /** A fresh adapter on the backend. Tests use their own queue names (uniqueName), so adapters may share a backend. */
  create(): Promise<JobQueue>;
  /** Closes the adapter (default: close()). */
  destroy?(queue: JobQueue): Promise<void>;
  /** Removes what a test left for a queue name on the broker (stream, queue, keys, rows). */
  dropQueue?(queue: string): Promise<void>;
  /**
   * Absolute path of an ESM module exporting `createJobQueue(): Promise<JobQueue>` (built from the
   * package's dist, e.g. `test/support/child-queue.mjs` importing the package by name). The contract
   * runs it in a real child process (the kit ships the child runner), lets it take a job, SIGKILLs it,
   * and expects another worker to get the job again (attempt 2) within leaseMs + resolutionMs.
   * Required when capabilities.shared is true.
   */
  childModule?: string;
  /** How late a delayed job, a retry or a redelivery may come beyond its due time, in ms (default 1000). */
  resolutionMs?: number;
}

/** Lease of the workers of the tests where a lease matters: short, within the port's minimum. */
export const TEST_LEASE_MS = 1_000;
/** Back-off of the tests' workers: retries come within a fifth of a second. */
export const TEST_BACKOFF = { initialMs: 20, maxMs: 200 } as const;
/**
 * Scheduling slack of a loaded 2-core machine, added to every "no later than" bound on top of the
 * adapter's `resolutionMs`: the test's own timers and the handler's report run late too.
 */
export const SLACK_MS = 1_000;
/** How long a test waits for something that must happen soon (a delivery of a ready job). */
export const SOON_MS = 10_000;

/** What one check gets: the adapter under test, more instances of it, and its own queue names. */
export interface JobContext {
  /** The adapter under test. */
  readonly queue: JobQueue;
  readonly harness: JobQueueHarness;
  /** The harness's `resolutionMs` (default 1,000). */
  readonly resolutionMs: number;
  /**
   * Another instance on the same backend, closed after the check: a fresh `harness.create()` for a
   * shared adapter (another "process"), `queue` itself for an in-process one.
   */
  peer(): Promise<JobQueue>;
  /** A queue name no other test or run uses; removed through `harness.dropQueue` after the check. */
  name(prefix?: string): string;
  /**
   * Starts a worker (defaults: `leaseMs` TEST_LEASE_MS, `backoff` TEST_BACKOFF) that the check's
   * clean-up closes (deadline 2 s) if the check did not.
   */
  work<P extends JsonValue = JsonValue>(
    on: JobQueue,
    queue: string,
    handler: JobHandler<P>,
    options?: WorkOptions,
  ): JobWorker;
  /** Ends the check as skipped, saying why (shown next to the test name). */
  skip(reason: string): never;
}

/** One contract check: resolves for a conforming adapter, throws for one that breaks the rule. */
export type JobCheck = (context: JobContext) => Promise<void>;

/** Thrown by `JobContext.skip` outside vitest (the strictness tests run checks directly). */
export class SkippedCheck extends Error {}

/**
 * Runs `check` with a fresh adapter and cleans up after it whatever happens: workers closed, extra
 * instances released, queue names dropped, the adapter destroyed.
 */
export async function runJobCheck(
  harness: JobQueueHarness,
  check: JobCheck,
  skip: (reason: string) => never = (reason) => {
    throw new SkippedCheck(reason);
  },
): Promise<void> {
  const release = (queue: JobQueue) => (harness.destroy ? harness.destroy(queue) : queue.close());
  const queue = await harness.create();
  const peers: JobQueue[] = [];
  const names: string[] = [];
  const workers: JobWorker[] = [];
  const context: JobContext = {
    queue,
    harness,
    resolutionMs: harness.resolutionMs ?? 1_000,
    async peer() {
      if (!queue.capabilities.shared) return queue;
      const peer = await harness.create();
      peers.push(peer);
      return peer;
    },
    name(prefix = "job") {
      const name = uniqueName(prefix);
      names.push(name);
      return name;
    },
    work(on, name, handler, options = {}) {
      const worker = on.work(name, handler, { leaseMs: TEST_LEASE_MS, backoff: TEST_BACKOFF, ...options });
      workers.push(worker);
      return worker;
    },
    skip,
  };
  try {
    await check(context);
  } finally {
    const closed = await Promise.allSettled(
      workers.map((worker) => bounded(worker.close({ deadlineMs: 2_000 }), "closing a worker")),
    );
    const released = await Promise.allSettled(
      [...peers, queue].map((instance) => bounded(release(instance), "releasing an adapter")),
    );
    const dropped = await Promise.allSettled(
      names.map((name) => bounded(Promise.resolve(harness.dropQueue?.(name)), `dropping queue ${name}`)),
    );
    const failed = [...closed, ...released, ...dropped].find((r) => r.status === "rejected");
    // A clean-up failure must not hide the check's own verdict, yet must not pass unseen.
    if (failed) console.warn("jobs contract clean-up failed:", (failed as PromiseRejectedResult).reason);
  }
}

/** Clean-up steps of a broken adapter must not hang the suite. */
const CLEAN_UP_MS = 30_000;

function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${CLEAN_UP_MS} ms`)), CLEAN_UP_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `probe` every 10 ms until it returns true; throws naming `what` after `timeoutMs`. */
export async function eventually(
  probe: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = SOON_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting until ${typeof what === "string" ? what : what()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves after `ms` of real time: only to watch that something does NOT happen meanwhile. */
/** Whether the adapter offers `cancel` (`capabilities.cancel` is not `false`). */
export function cancels(ctx: JobContext): boolean {
  return ctx.queue.capabilities.cancel !== false;
}

/** Ends the check as skipped when the adapter does not offer `cancel`. */
export function requireCancel(ctx: JobContext): void {
  if (!cancels(ctx)) ctx.skip("capabilities.cancel is false: cancel is NOT_SUPPORTED");
}

/** Cancels `id` where the adapter can (clean-up of jobs a check leaves waiting). */
export async function cancelIfOffered(ctx: JobContext, id: string): Promise<void> {
  if (cancels(ctx)) await ctx.queue.cancel(id);
}

export function quietFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One delivery as a handler saw it, with the time it started. */
export interface Seen<P extends JsonValue = JsonValue> {
  delivery: JobDelivery<P>;
  at: number;
}

/** Records every delivery a handler sees. */
export class Deliveries<P extends JsonValue = JsonValue> {
  readonly all: Seen<P>[] = [];

  /** A handler that records the delivery, then runs `then` (default: succeed at once). */
  handler(then: (delivery: JobDelivery<P>) => Promise<void> | void = () => undefined): JobHandler<P> {
    return async (delivery) => {
      this.all.push({ delivery, at: Date.now() });
      await then(delivery);
    };
  }

  of(id: string): Seen<P>[] {
    return this.all.filter((seen) => seen.delivery.id === id);
  }

  /** Waits until `id` has been delivered `count` times; returns its deliveries. */
  async waitFor(id: string, count = 1, timeoutMs = SOON_MS): Promise<Seen<P>[]> {
    await eventually(
      () => this.of(id).length >= count,
      () => `job ${id} was delivered ${count} time(s) (seen ${this.of(id).length})`,
      timeoutMs,
    );
    return this.of(id);
  }
}

/** A retryable failure, as a handler whose downstream call failed would throw. */
export function transientFailure(message = "downstream failed, try again"): Error {
  return Object.assign(new Error(message), { retryable: true });
}
