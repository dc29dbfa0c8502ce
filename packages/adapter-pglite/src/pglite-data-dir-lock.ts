import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { InfrastructureError } from "@proj/ports";

/** Inside the data folder, so the lock moves and is deleted with it; PGlite ignores the file. */
export const LOCK_FILE_NAME = ".proj-pglite.lock";

/** A lock file still empty this long after creation belongs to an opener that died mid-write. */
const EMPTY_LOCK_GRACE_MS = 2_000;
const ATTEMPTS = 20;

interface LockRecord {
  pid: number;
  host: string;
  /** Tells this opener's lock from a later one of a process that reused the pid. */
  token: string;
}

/** The exclusive hold of one process on one PGlite data folder. */
export interface DataDirLock {
  /** Removes the lock file, unless another opener has taken it over since. */
  release(): void;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord>;
    if (
      typeof value.pid === "number" &&
      Number.isInteger(value.pid) &&
      value.pid > 0 &&
      typeof value.host === "string" &&
      typeof value.token === "string"
    ) {
      return { pid: value.pid, host: value.host, token: value.token };
    }
  } catch {
    // An unreadable record is judged by its age below.
  }
  return undefined;
}

/** `undefined` when the file is gone. */
function readLockFile(path: string): { text: string; ageMs: number } | undefined {
  try {
    const ageMs = Date.now() - statSync(path).mtimeMs;
    return { text: readFileSync(path, "utf8"), ageMs };
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

/** A process of another host cannot be checked from here: it is taken to be alive. */
function isAlive(record: LockRecord): boolean {
  if (record.host !== hostname()) return true;
  try {
    process.kill(record.pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) !== "ESRCH";
  }
}

function tryCreate(path: string, record: LockRecord): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (error) {
    if (errnoOf(error) === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify(record));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Moves a stale lock aside and deletes it, but only if what was moved is the stale lock that was
 * judged: another opener may have replaced it in between, and its fresh lock is then put back.
 */
function removeStale(path: string, staleText: string): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return;
    throw error;
  }
  if (readFileSync(aside, "utf8") !== staleText) {
    try {
      linkSync(aside, path);
    } catch (error) {
      if (errnoOf(error) !== "EEXIST") throw error;
    }
  }
  unlinkSync(aside);
}

function heldError(dataDir: string, holder: LockRecord): InfrastructureError {
  const where =
    holder.host === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on ${holder.host}`;
  return new InfrastructureError(
    "CONFLICT",
    `PGlite data folder ${dataDir} is in use by ${where}: one process may open it at a time (stop it, or use another folder)`,
    { retryable: false, details: { dataDir, holderPid: holder.pid, holderHost: holder.host } },
  );
}

function lockError(dataDir: string, error: unknown): InfrastructureError {
  const errno = errnoOf(error);
  const code =
    errno === "EACCES" || errno === "EPERM" || errno === "EROFS"
      ? "PERMISSION_DENIED"
      : errno === "ENOSPC" || errno === "EDQUOT"
        ? "RESOURCE_EXHAUSTED"
        : "INTERNAL";
  return new InfrastructureError(
    code,
    `cannot lock PGlite data folder ${dataDir}${errno ? ` (${errno})` : ""}`,
    {
      cause: error,
    },
  );
}

/**
 * Takes the exclusive lock on a data folder, synchronously: a lock file naming this process. A
 * live holder (this process included) makes it fail at once with `CONFLICT`; the lock of a process
 * that is gone is taken over. Two PostgreSQL engines on one folder corrupt it, so this is the only
 * way `createPgliteDatabase` opens a folder.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE_NAME);
  const record: LockRecord = { pid: process.pid, host: hostname(), token: randomBytes(16).toString("hex") };
  try {
    mkdirSync(dataDir, { recursive: true });
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (tryCreate(path, record)) return ownedLock(path, record.token);
      const found = readLockFile(path);
      if (found === undefined) continue;
      const holder = parseRecord(found.text);
      if (holder === undefined) {
        if (found.ageMs < EMPTY_LOCK_GRACE_MS) {
          sleepSync(25);
          continue;
        }
      } else if (isAlive(holder)) {
        throw heldError(dataDir, holder);
      }
      removeStale(path, found.text);
    }
  } catch (error) {
    if (error instanceof InfrastructureError) throw error;
    throw lockError(dataDir, error);
  }
  throw new InfrastructureError(
    "UNAVAILABLE",
    `cannot lock PGlite data folder ${dataDir}: it keeps changing hands`,
  );
}

function ownedLock(path: string, token: string): DataDirLock {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        const found = readLockFile(path);
        if (found !== undefined && parseRecord(found.text)?.token === token) removeStale(path, found.text);
      } catch {
        // A lock file left behind names this process; once it has exited, the next opener takes it over.
      }
    },
  };
}
