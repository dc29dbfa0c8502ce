import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { expectErrorCode } from "@proj/contract-tests";
import { InfrastructureError, sql } from "@proj/ports";
import { afterEach, describe, expect, it } from "vitest";
import { createPgliteDatabase } from "../src/index.js";
import { LOCK_FILE_NAME, lockDataDir } from "../src/pglite-data-dir-lock.js";

/** Starting a PGlite engine (and, for a child, loading the source) takes seconds on a loaded machine. */
const ENGINE_START = 120_000;
const FIXTURE = fileURLToPath(new URL("./fixtures/open-data-dir.mjs", import.meta.url));

interface ChildAnswer {
  opened: boolean;
  pid?: number;
  code?: string;
  message?: string;
  details?: Record<string, unknown>;
}

const folders: string[] = [];
const children: ChildProcess[] = [];

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), "pglite-lock-"));
  folders.push(path);
  return path;
}

/** A real second process opening `dataDir` through the adapter; resolves with its first line. */
function openInChild(
  dataDir: string,
  mode: "hold" | "try",
): { child: ChildProcess; answer: Promise<ChildAnswer> } {
  const child = spawn(process.execPath, [FIXTURE, dataDir, mode], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const answer = new Promise<ChildAnswer>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => resolve(JSON.parse(line) as ChildAnswer));
    child.once("exit", (code) => reject(new Error(`child exited with ${code} before answering`)));
  });
  return { child, answer };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** The pid of a process that has already exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(result.stdout.toString());
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await exited(child);
  }
  for (const path of folders.splice(0)) await rm(path, { recursive: true, force: true });
});

describe("one process per data folder", () => {
  it(
    "a second adapter on the same folder in this process fails at once with CONFLICT naming the folder and this pid",
    async () => {
      const dataDir = await folder();
      const first = createPgliteDatabase({ dataDir });
      let refusal: unknown;
      try {
        createPgliteDatabase({ dataDir });
      } catch (error) {
        refusal = error;
      } finally {
        await first.close();
      }
      expect(refusal).toBeInstanceOf(InfrastructureError);
      const error = refusal as InfrastructureError;
      expect(error.code).toBe("CONFLICT");
      expect(error.message).toContain(dataDir);
      expect(error.message).toContain(String(process.pid));
      expect(error.details).toMatchObject({ dataDir, holderPid: process.pid });
      expect(existsSync(join(dataDir, LOCK_FILE_NAME))).toBe(false);
    },
    ENGINE_START,
  );

  it(
    "another process cannot open a folder this process holds: CONFLICT naming this pid",
    async () => {
      const dataDir = await folder();
      const holder = createPgliteDatabase({ dataDir });
      try {
        const { answer } = openInChild(dataDir, "try");
        const refused = await answer;
        expect(refused).toMatchObject({
          opened: false,
          code: "CONFLICT",
          details: { holderPid: process.pid },
        });
        expect(refused.message).toContain(String(process.pid));
      } finally {
        await holder.close();
      }
    },
    ENGINE_START,
  );

  it(
    "a folder held by a live process is refused here; once that process is killed its lock is taken over and the data is intact",
    async () => {
      const dataDir = await folder();
      const { child, answer } = openInChild(dataDir, "hold");
      expect(await answer).toMatchObject({ opened: true, pid: child.pid });
      let refusal: unknown;
      try {
        createPgliteDatabase({ dataDir });
      } catch (error) {
        refusal = error;
      }
      await expectErrorCode(Promise.reject(refusal), "CONFLICT");
      expect((refusal as InfrastructureError).details).toMatchObject({ holderPid: child.pid });

      child.kill("SIGKILL");
      await exited(child);
      const db = createPgliteDatabase({ dataDir });
      try {
        expect(await db.query(sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
      } finally {
        await db.close();
      }
    },
    2 * ENGINE_START,
  );
});

describe("the lock file", () => {
  it("takes over the lock of a process that is gone", async () => {
    const dataDir = await folder();
    const path = join(dataDir, LOCK_FILE_NAME);
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: hostname(), token: "stale" }));
    const lock = lockDataDir(dataDir);
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ pid: process.pid });
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it("takes over an unreadable lock file once it is older than a writer needs", async () => {
    const dataDir = await folder();
    const path = join(dataDir, LOCK_FILE_NAME);
    await writeFile(path, "");
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const lock = lockDataDir(dataDir);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it("treats a lock written on another host as held (its process cannot be checked from here)", async () => {
    const dataDir = await folder();
    await writeFile(
      join(dataDir, LOCK_FILE_NAME),
      JSON.stringify({ pid: deadPid(), host: `${hostname()}-elsewhere`, token: "remote" }),
    );
    expect(() => lockDataDir(dataDir)).toThrow(/in use by process \d+ on /);
  });

  it("release leaves alone a lock that another opener has taken over since", async () => {
    const dataDir = await folder();
    const path = join(dataDir, LOCK_FILE_NAME);
    const lock = lockDataDir(dataDir);
    const other = JSON.stringify({ pid: process.pid, host: hostname(), token: "someone-else" });
    await writeFile(path, other);
    lock.release();
    expect(await readFile(path, "utf8")).toBe(other);
  });
});
