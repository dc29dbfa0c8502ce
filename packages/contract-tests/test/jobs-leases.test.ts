import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobQueueHarness, runJobCheck, SkippedCheck } from "../src/jobs/harness.js";
import { leaseChecks } from "../src/jobs/lease.js";
import { createSqliteJobQueue } from "./support/sqlite-job-queue.mjs";

/*
 * The lease checks against a queue that outlives a process: a small SQLite-file queue shared by
 * this process and the contract's child worker (test/support/sqlite-job-queue.mjs). The honest
 * queue passes; one that never renews a lease, and one that never takes back an expired lease,
 * fail the check named for their flaw. This is how the SIGKILL check and its child runner
 * (dist/jobs-child-runner.js) are exercised in this package; the broker adapters run it for real.
 */

const RENEWAL =
  "renews the lease: a handler running 3.5 × leaseMs is not delivered again meanwhile, nor after";
const SIGKILL = Object.keys(leaseChecks).find((name) => name.includes("SIGKILL"))!;
const KILLS_ITSELF = Object.keys(leaseChecks).find((name) => name.includes("kills its own worker"))!;
const childModule = fileURLToPath(new URL("./support/sqlite-job-queue.mjs", import.meta.url));

let folder: string;
let files = 0;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "jobs-leases-"));
});

afterAll(async () => {
  delete process.env.JOBS_SQLITE_PATH;
  delete process.env.JOBS_SQLITE_FLAW;
  await rm(folder, { recursive: true, force: true });
});

/** A harness on a fresh database file; the child worker opens the same file, with the same flaw. */
function sqliteHarness(flaw: "" | "no-renewal" | "no-expiry" | "handler-before-commit"): JobQueueHarness {
  const path = join(folder, `queue-${++files}.db`);
  return {
    create: async () => {
      // The child inherits the environment: it opens the same file, broken the same way.
      process.env.JOBS_SQLITE_PATH = path;
      process.env.JOBS_SQLITE_FLAW = flaw;
      return createSqliteJobQueue(path, flaw);
    },
    childModule,
    resolutionMs: 200,
  };
}

describe("the lease checks on a queue shared between processes", () => {
  it("names both checks", () => {
    expect(Object.keys(leaseChecks)).toContain(RENEWAL);
    expect(SIGKILL).toBeDefined();
    expect(KILLS_ITSELF).toBeDefined();
  });

  it("the honest shared queue counts the attempt of a handler that kills its own process", async () => {
    await runJobCheck(sqliteHarness(""), leaseChecks[KILLS_ITSELF]!);
  });

  it("a queue that starts handlers before their claim commits fails the check of a handler killing its process", async () => {
    await expect(
      runJobCheck(sqliteHarness("handler-before-commit"), leaseChecks[KILLS_ITSELF]!),
    ).rejects.toThrow(/the attempt of the handler that died was not counted/);
  });

  it("the honest shared queue passes the SIGKILL check: a killed child's job comes back as attempt 2", async () => {
    await runJobCheck(sqliteHarness(""), leaseChecks[SIGKILL]!);
  });

  it("the honest shared queue passes the renewal check", async () => {
    await runJobCheck(sqliteHarness(""), leaseChecks[RENEWAL]!);
  });

  it("a queue that never takes back an expired lease fails the SIGKILL check", async () => {
    await expect(runJobCheck(sqliteHarness("no-expiry"), leaseChecks[SIGKILL]!)).rejects.toThrow(
      /was delivered 1 time/,
    );
  });

  it("a queue that never renews a lease fails the renewal check", async () => {
    await expect(runJobCheck(sqliteHarness("no-renewal"), leaseChecks[RENEWAL]!)).rejects.toThrow(
      /delivered again/,
    );
  });

  it("a shared adapter's harness without a childModule fails the SIGKILL check", async () => {
    const { childModule: _none, ...withoutChild } = sqliteHarness("");
    await expect(runJobCheck(withoutChild, leaseChecks[SIGKILL]!)).rejects.toThrow(/childModule/);
  });

  it("a childModule without createJobQueue fails the SIGKILL check, saying so", async () => {
    const noFactory = fileURLToPath(new URL("./support/no-factory.mjs", import.meta.url));
    const harness = { ...sqliteHarness(""), childModule: noFactory };
    await expect(runJobCheck(harness, leaseChecks[SIGKILL]!)).rejects.toThrow(
      /does not export createJobQueue/,
    );
  });

  it("skips the SIGKILL check for an in-process queue", async () => {
    const inProcess: JobQueueHarness = {
      create: async () => {
        const queue = createSqliteJobQueue(join(folder, `queue-${++files}.db`), "");
        return Object.assign(Object.create(queue) as typeof queue, {
          capabilities: { ...queue.capabilities, shared: false },
        });
      },
    };
    await expect(runJobCheck(inProcess, leaseChecks[SIGKILL]!)).rejects.toBeInstanceOf(SkippedCheck);
  });
});
