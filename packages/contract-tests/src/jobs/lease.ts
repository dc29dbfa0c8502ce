import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import {
  Deliveries,
  deferred,
  type JobCheck,
  type JobContext,
  quietFor,
  SLACK_MS,
  SOON_MS,
  TEST_LEASE_MS,
} from "./harness.js";

/** Lease of the killed child's worker (the contract's range is 1–2 s). */
const CHILD_LEASE_MS = 2_000;
/** A child has this long to import the adapter, connect and start its worker. */
const CHILD_START_MS = 30_000;

/**
 * The built child runner: next to the kit's `dist/index.js` when the suite runs from the package,
 * or in the package's `dist` when it runs from source (the monorepo's tests alias the sources).
 */
export function childRunnerPath(): string {
  const candidates = [
    new URL("./jobs-child-runner.js", import.meta.url),
    new URL("../../dist/jobs-child-runner.js", import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `the jobs contract's child runner is not built (looked for ${candidates.join(", ")}): build @proj/contract-tests`,
    );
  }
  return found;
}

type ChildMessage =
  | { type: "ready" }
  | { type: "started"; id: string; attempt: number }
  | { type: "failed"; message: string };

/** A child process working one queue through the harness's `childModule`. */
class WorkerProcess {
  readonly started: Array<{ id: string; attempt: number }> = [];
  private readonly child: ChildProcess;
  private readonly ready = deferred();
  readonly exited: Promise<NodeJS.Signals | number | null>;

  constructor(module: string, queue: string, leaseMs: number, killOnStart: boolean) {
    this.child = fork(childRunnerPath(), [JSON.stringify({ module, queue, leaseMs, killOnStart })], {
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "json",
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.ready.reject(new Error(`the child worker exited (${signal ?? code}) before it was ready`));
        resolve(signal ?? code);
      });
    });
    this.ready.promise.catch(() => undefined);
    this.child.on("message", (message: ChildMessage) => {
      if (message.type === "ready") this.ready.resolve();
      else if (message.type === "started") this.started.push({ id: message.id, attempt: message.attempt });
      else if (message.type === "failed")
        this.ready.reject(new Error(`the child worker failed: ${message.message}`));
    });
    this.child.once("error", (error) => this.ready.reject(error));
  }

  async whenReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the child worker was not ready within ${CHILD_START_MS} ms`)),
        CHILD_START_MS,
      );
    });
    await Promise.race([this.ready.promise, late]).finally(() => clearTimeout(timer));
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

async function startWorkerProcess(
  ctx: JobContext,
  queue: string,
  leaseMs: number,
  killOnStart = false,
): Promise<WorkerProcess> {
  if (!ctx.queue.capabilities.shared) {
    ctx.skip("capabilities.shared is false: no job outlives the process that holds it");
  }
  const module = ctx.harness.childModule;
  expect(module, "a shared adapter's harness must name a childModule").toEqual(expect.any(String));
  return new WorkerProcess(module!, queue, leaseMs, killOnStart);
}

/** Leases: renewal while a handler runs, expiry when its worker process dies. */
export const leaseChecks: Readonly<Record<string, JobCheck>> = {
  "renews the lease: a handler running 3.5 × leaseMs is not delivered again meanwhile, nor after": async (
    ctx,
  ) => {
    const queue = ctx.name("renew");
    const seen = new Deliveries();
    let abortedWhileRunning = false;
    const { id } = await ctx.queue.enqueue(queue, { long: true });
    const handler = seen.handler(async (delivery) => {
      await quietFor(3.5 * TEST_LEASE_MS);
      abortedWhileRunning = delivery.signal.aborted;
    });
    ctx.work(ctx.queue, queue, handler, { leaseMs: TEST_LEASE_MS, concurrency: 2 });
    // On a shared backend a second instance competes for the job: it must not get it either.
    const peer = await ctx.peer();
    if (peer !== ctx.queue) ctx.work(peer, queue, handler, { leaseMs: TEST_LEASE_MS, concurrency: 2 });
    await seen.waitFor(id);
    await quietFor(3.5 * TEST_LEASE_MS + ctx.resolutionMs + TEST_LEASE_MS);
    expect(seen.of(id), "delivered again while its handler ran, or after it succeeded").toHaveLength(1);
    expect(abortedWhileRunning, "the handler's signal fired although its lease was kept").toBe(false);
  },

  "expires the lease of a worker process killed with SIGKILL: another worker gets attempt 2 within leaseMs + resolutionMs (shared adapters only; skipped when capabilities.shared is false)":
    async (ctx) => {
      const queue = ctx.name("sigkill");
      const child = await startWorkerProcess(ctx, queue, CHILD_LEASE_MS);
      try {
        await child.whenReady();
        const { id } = await ctx.queue.enqueue(queue, { survives: "SIGKILL" });
        const deadline = Date.now() + SOON_MS;
        while (!child.started.some((job) => job.id === id)) {
          if (Date.now() > deadline)
            throw new Error(`the child worker did not take job ${id} within ${SOON_MS} ms`);
          await quietFor(10);
        }
        expect(child.started.find((job) => job.id === id)!.attempt).toBe(1);
        const seen = new Deliveries();
        ctx.work(ctx.queue, queue, seen.handler(), { leaseMs: CHILD_LEASE_MS });
        child.kill();
        const killedAt = Date.now();
        expect(await child.exited).toBe("SIGKILL");
        const bound = CHILD_LEASE_MS + ctx.resolutionMs;
        const [again] = await seen.waitFor(id, 1, bound + SLACK_MS * 10);
        expect(again!.at - killedAt, "redelivered later than leaseMs + resolutionMs").toBeLessThanOrEqual(
          bound + SLACK_MS,
        );
        expect(again!.delivery.attempt, "the redelivery's attempt number").toBe(2);
        expect(again!.delivery.payload).toEqual({ survives: "SIGKILL" });
      } finally {
        child.kill();
        await child.exited;
      }
    },

  "counts the attempt of a handler that kills its own worker process as it starts: another worker gets attempt 2 (shared adapters only; skipped when capabilities.shared is false)":
    async (ctx) => {
      // A job that crashes its worker must use up attempts like one that fails, or it would be
      // delivered again and again and never become a dead letter.
      const queue = ctx.name("crash");
      const child = await startWorkerProcess(ctx, queue, CHILD_LEASE_MS, true);
      try {
        await child.whenReady();
        const { id } = await ctx.queue.enqueue(queue, { kills: "its worker" });
        // The child's only way to die by SIGKILL here is its handler, which runs this job.
        const exited = await Promise.race([child.exited, quietFor(SOON_MS).then(() => "still running")]);
        expect(exited, "the child's handler did not get the job (or did not kill its process)").toBe(
          "SIGKILL",
        );
        const seen = new Deliveries();
        ctx.work(ctx.queue, queue, seen.handler(), { leaseMs: CHILD_LEASE_MS });
        const [again] = await seen.waitFor(id, 1, CHILD_LEASE_MS + ctx.resolutionMs + SLACK_MS * 10);
        expect(again!.delivery.attempt, "the attempt of the handler that died was not counted").toBe(2);
        expect(again!.delivery.payload).toEqual({ kills: "its worker" });
      } finally {
        child.kill();
        await child.exited;
      }
    },
};
