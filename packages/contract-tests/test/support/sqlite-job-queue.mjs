// A small JobQueue shared between processes through one SQLite file (node:sqlite), for the kit's
// own tests of the contract's lease checks: the SIGKILL check needs a queue that outlives a
// process, and no broker adapter lives in this package. It does what those checks use (enqueue,
// work with a renewed lease, close) and refuses the rest; it is a test fixture, not an adapter.
//
// JOBS_SQLITE_FLAW (environment, read at creation) breaks it on purpose:
// "no-renewal" never renews a lease; "no-expiry" never takes back a job whose lease ran out;
// "handler-before-commit" starts a handler before its claim commits (a process that dies then rolls
// the claim back, and the attempt is not counted).
import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";

const POLL_MS = 25;

function closedError() {
  return Object.assign(new Error("the sqlite job queue is closed"), { code: "CLOSED", retryable: false });
}

export function createSqliteJobQueue(path, flaw = process.env.JOBS_SQLITE_FLAW ?? "") {
  const db = new DatabaseSync(path, { timeout: 5_000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, queue TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL, state TEXT NOT NULL, due_at INTEGER NOT NULL, lease_until INTEGER)`);
  const insert = db.prepare("INSERT INTO jobs VALUES (?, ?, ?, 0, ?, 'ready', ?, NULL)");
  const pick = db.prepare(
    flaw === "no-expiry"
      ? "SELECT id FROM jobs WHERE queue = ? AND state = 'ready' AND due_at <= ? LIMIT 1"
      : `SELECT id FROM jobs WHERE queue = ? AND ((state = 'ready' AND due_at <= ?)
           OR (state = 'running' AND lease_until < ?)) LIMIT 1`,
  );
  const claim = db.prepare(
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ? WHERE id = ? RETURNING *",
  );
  const renew = db.prepare("UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running'");
  const remove = db.prepare("DELETE FROM jobs WHERE id = ?");
  const retry = db.prepare("UPDATE jobs SET state = 'ready', due_at = ?, lease_until = NULL WHERE id = ?");
  const workers = new Set();
  let closed = false;

  function take(queue, leaseMs, start) {
    db.exec("BEGIN IMMEDIATE");
    try {
      const now = Date.now();
      const found = flaw === "no-expiry" ? pick.get(queue, now) : pick.get(queue, now, now);
      const row = found ? claim.get(now + leaseMs, found.id) : undefined;
      if (row && flaw === "handler-before-commit") start(row);
      db.exec("COMMIT");
      return row;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  function deliveryOf(row, controller) {
    return {
      id: row.id,
      queue: row.queue,
      payload: JSON.parse(row.payload),
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      signal: controller.signal,
    };
  }

  function work(queue, handler, options = {}) {
    if (closed) throw closedError();
    const { leaseMs = 30_000, concurrency = 1 } = options;
    const running = new Set();
    let stopping = false;
    let stopped;
    const poll = setInterval(() => {
      while (!stopping && running.size < concurrency) {
        let early;
        const row = take(queue, leaseMs, (claimed) => {
          early = Promise.resolve(handler(deliveryOf(claimed, new AbortController())));
        });
        if (!row) return;
        const controller = new AbortController();
        const renewal =
          flaw === "no-renewal"
            ? undefined
            : setInterval(() => renew.run(Date.now() + leaseMs, row.id), Math.floor(leaseMs / 3));
        const run = (early ?? Promise.resolve().then(() => handler(deliveryOf(row, controller))))
          .then(
            () => remove.run(row.id),
            () =>
              row.attempts >= row.max_attempts ? remove.run(row.id) : retry.run(Date.now() + 20, row.id),
          )
          .finally(() => {
            clearInterval(renewal);
            running.delete(run);
          });
        running.add(run);
      }
    }, POLL_MS);
    const worker = {
      queue,
      get running() {
        return running.size;
      },
      close() {
        stopping = true;
        clearInterval(poll);
        stopped ??= Promise.all(running).then(() => {
          workers.delete(worker);
        });
        return stopped;
      },
      [Symbol.asyncDispose]() {
        return worker.close();
      },
    };
    workers.add(worker);
    return worker;
  }

  const unsupported = async () => {
    throw new Error("the sqlite test queue supports enqueue, work and close only");
  };

  const queue = {
    capabilities: { shared: true, idempotencyWindowMs: 86_400_000, maxPayloadBytes: 262_144 },
    async enqueue(name, payload, options = {}) {
      if (closed) throw closedError();
      const id = randomUUID();
      insert.run(
        id,
        name,
        JSON.stringify(payload),
        options.maxAttempts ?? 3,
        Date.now() + (options.delayMs ?? 0),
      );
      return { id, duplicate: false };
    },
    work,
    cancel: unsupported,
    listDeadLetters: unsupported,
    redrive: unsupported,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...workers].map((worker) => worker.close()));
      db.close();
    },
    [Symbol.asyncDispose]() {
      return queue.close();
    },
  };
  return queue;
}

/** The harness's `childModule` entry point: the file named by JOBS_SQLITE_PATH. */
export async function createJobQueue() {
  const path = process.env.JOBS_SQLITE_PATH;
  if (!path) throw new Error("JOBS_SQLITE_PATH is not set");
  return createSqliteJobQueue(path);
}
