import type { JobQueue } from "@proj/ports";

/** A JobQueue fixture shared between processes through one SQLite file (enqueue, work, close only). */
export function createSqliteJobQueue(
  path: string,
  flaw?: "" | "no-renewal" | "no-expiry" | "handler-before-commit",
): JobQueue;
/** The `childModule` entry point: a queue on the file named by JOBS_SQLITE_PATH. */
export function createJobQueue(): Promise<JobQueue>;
