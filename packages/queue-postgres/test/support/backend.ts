import { createPostgresDatabase } from "@proj/adapter-postgres";
import { type JobHandler, type SqlDatabase, sql } from "@proj/ports";
import {
  createPostgresJobQueue,
  type PostgresJobQueue,
  type PostgresJobQueueOptions,
} from "../../src/index.js";

export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** The schema every test shares; tests use their own queue names (uniqueName) and drop their rows. */
export const TEST_SCHEMA = "queue_postgres_test";

export function openDatabase(options: { url?: string; poolSize?: number } = {}): SqlDatabase {
  return createPostgresDatabase({
    connectionString: options.url ?? POSTGRES_URL,
    poolSize: options.poolSize ?? 10,
    applicationName: "queue-postgres-test",
  });
}

/** A queue on its own database pool, which it closes when it closes. */
export function openQueue(
  options: PostgresJobQueueOptions & { url?: string; poolSize?: number } = {},
): PostgresJobQueue {
  const { url, poolSize, ...rest } = options;
  return createPostgresJobQueue(openDatabase({ url, poolSize }), {
    schema: TEST_SCHEMA,
    closeDatabase: true,
    ...rest,
  });
}

/** Removes what a test left for `queue`: jobs, dead letters, idempotency keys. */
export async function dropQueueRows(db: SqlDatabase, queue: string, schema = TEST_SCHEMA): Promise<void> {
  for (const table of ["jobs", "dead_letters", "idempotency_keys"]) {
    await db.execute(sql`DELETE FROM ${sql.id(schema, table)} WHERE queue = ${queue}`);
  }
}

/** A promise with its resolve and reject (`Promise.withResolvers` is ES2024; the lib is ES2023). */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A handler that runs until its signal fires, then fails with the signal's reason: `started`
 * resolves when it begins, `reason` with what fired the signal.
 */
export function untilAborted(): {
  handler: JobHandler;
  started: Promise<void>;
  reason: Promise<unknown>;
} {
  const started = deferred<void>();
  const reason = deferred<unknown>();
  const handler: JobHandler = (job) =>
    new Promise<void>((_resolve, reject) => {
      started.resolve();
      job.signal.addEventListener("abort", () => {
        reason.resolve(job.signal.reason);
        reject(job.signal.reason);
      });
    });
  return { handler, started: started.promise, reason: reason.promise };
}
