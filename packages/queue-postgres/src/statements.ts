import { type SqlQuery, sql } from "@proj/ports";
import type { JobTables } from "./schema.js";

/** `ms` milliseconds as an SQL interval (a bound parameter, never spliced). */
function millis(ms: number): SqlQuery {
  return sql`(${ms}::float8 * interval '1 millisecond')`;
}

export function insertJob(
  t: JobTables,
  job: { id: string; queue: string; payload: string; maxAttempts: number; delayMs: number },
  notification?: { channel: string; payload: string },
): SqlQuery {
  const insert = sql`INSERT INTO ${t.jobs} (id, queue, payload, max_attempts, run_at)
    VALUES (${job.id}::uuid, ${job.queue}, ${job.payload}, ${job.maxAttempts}::int, now() + ${millis(job.delayMs)})`;
  if (notification === undefined) return insert;
  // The notification goes out when the insert commits, in the same round trip.
  return sql`WITH j AS (${insert} RETURNING id)
    SELECT pg_notify(${notification.channel}, ${notification.payload}) AS sent FROM j`;
}

/**
 * One statement: records the key (or takes over a key older than the window) and inserts the job
 * only when the key now points at it. Returns the key's job id: this job's, or the earlier one's.
 * Two concurrent calls with one key serialise on the key's unique index.
 */
export function insertJobWithKey(
  t: JobTables,
  job: { id: string; queue: string; payload: string; maxAttempts: number; delayMs: number },
  key: string,
  windowMs: number,
): SqlQuery {
  const expired = sql`k.created_at < now() - ${millis(windowMs)}`;
  return sql`WITH k AS (
      INSERT INTO ${t.keys} AS k (queue, key, job_id, created_at)
      VALUES (${job.queue}, ${Buffer.from(key, "utf8")}::bytea, ${job.id}::uuid, now())
      ON CONFLICT (queue, key) DO UPDATE SET
        job_id = CASE WHEN ${expired} THEN EXCLUDED.job_id ELSE k.job_id END,
        created_at = CASE WHEN ${expired} THEN EXCLUDED.created_at ELSE k.created_at END
      RETURNING k.job_id
    ), j AS (
      INSERT INTO ${t.jobs} (id, queue, payload, max_attempts, run_at)
      SELECT ${job.id}::uuid, ${job.queue}, ${job.payload}, ${job.maxAttempts}::int, now() + ${millis(job.delayMs)}
      FROM k WHERE k.job_id = ${job.id}::uuid
      RETURNING id
    )
    SELECT k.job_id::text AS id FROM k`;
}

export interface ClaimedRow {
  id: string | null;
  payload: string | null;
  attempt: number | null;
  max_attempts: number | null;
  /** On the last row only: milliseconds until the queue's next job falls due (null: none known). */
  next_in_ms: number | null;
}

/**
 * Leases up to `limit` due jobs of `queue` to `token` (`FOR UPDATE SKIP LOCKED`: concurrent workers
 * never wait for each other nor take the same job), counting the attempt. A job whose lease ran
 * out (its worker died) is due again at `locked_until`. A last row with a null id says how long
 * until the next job of the queue falls due, so an idle worker can sleep exactly that long.
 */
export function claimJobs(
  t: JobTables,
  queue: string,
  limit: number,
  token: string,
  leaseMs: number,
): SqlQuery {
  return sql`WITH next AS (
      SELECT id FROM ${t.jobs} WHERE queue = ${queue} AND run_at <= now()
      ORDER BY run_at LIMIT ${limit}::int FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE ${t.jobs} AS j SET attempt = j.attempt + 1, lease_token = ${token}::uuid,
        locked_until = now() + ${millis(leaseMs)}, run_at = now() + ${millis(leaseMs)}
      FROM next WHERE j.id = next.id
      RETURNING j.id, j.payload, j.attempt, j.max_attempts
    )
    SELECT id::text AS id, payload, attempt, max_attempts, NULL::float8 AS next_in_ms FROM claimed
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, (
      SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 FROM ${t.jobs}
      WHERE queue = ${queue} AND run_at > now() AND run_at < 'infinity'
    )`;
}

/**
 * Extends the leases of `ids` held by `token`. Returns the rows still held, with their attempt and
 * whether they were cancelled meanwhile (a cancelled job keeps `run_at` infinity and its lease end).
 */
export function renewLeases(t: JobTables, ids: readonly string[], token: string, leaseMs: number): SqlQuery {
  return sql`UPDATE ${t.jobs} SET
      locked_until = CASE WHEN cancelled_at IS NULL THEN now() + ${millis(leaseMs)} ELSE locked_until END,
      run_at = CASE WHEN cancelled_at IS NULL THEN now() + ${millis(leaseMs)} ELSE run_at END
    WHERE lease_token = ${token}::uuid AND id = ANY(${ids}::uuid[])
    RETURNING id::text AS id, attempt, cancelled_at IS NOT NULL AS cancelled`;
}

/** Deletes finished jobs still leased to `token`. */
export function deleteJobs(t: JobTables, ids: readonly string[], token: string): SqlQuery {
  return sql`DELETE FROM ${t.jobs} WHERE lease_token = ${token}::uuid AND id = ANY(${ids}::uuid[])`;
}

/** Gives a failed attempt's job back to the queue, due after `delayMs`. */
export function retryJob(
  t: JobTables,
  id: string,
  token: string,
  attempt: number,
  delayMs: number,
): SqlQuery {
  return sql`UPDATE ${t.jobs} SET lease_token = NULL, locked_until = NULL, run_at = now() + ${millis(delayMs)}
    WHERE id = ${id}::uuid AND lease_token = ${token}::uuid AND attempt = ${attempt}::int AND cancelled_at IS NULL`;
}

/**
 * Gives jobs back at once, due now. `countAttempt` false for jobs no handler saw (claimed while the
 * worker began closing); true for deliveries a closing worker gave up on, which count like a lost
 * lease.
 */
export function releaseJobs(
  t: JobTables,
  ids: readonly string[],
  token: string,
  countAttempt: boolean,
): SqlQuery {
  const attempt = countAttempt ? sql`attempt` : sql`greatest(attempt - 1, 0)`;
  return sql`UPDATE ${t.jobs} SET lease_token = NULL, locked_until = NULL, run_at = now(), attempt = ${attempt}
    WHERE lease_token = ${token}::uuid AND id = ANY(${ids}::uuid[]) AND cancelled_at IS NULL`;
}

/** Moves a leased job to the dead letters in one statement. */
export function deadLetterJob(
  t: JobTables,
  id: string,
  token: string,
  attempt: number,
  error: { code: string; message: string },
): SqlQuery {
  return sql`WITH d AS (
      DELETE FROM ${t.jobs} WHERE id = ${id}::uuid AND lease_token = ${token}::uuid
        AND attempt = ${attempt}::int AND cancelled_at IS NULL
      RETURNING id, queue, payload, attempt, max_attempts
    )
    INSERT INTO ${t.deadLetters} (id, queue, payload, attempts, max_attempts, error_code, error_message)
    SELECT id, queue, payload, least(attempt, max_attempts), max_attempts, ${error.code},
      ${error.message.replaceAll("\0", "\\u0000")} FROM d`;
}

/** Marks a waiting or running job cancelled; returns whether it was waiting (no lease). */
export function cancelJob(t: JobTables, id: string): SqlQuery {
  return sql`UPDATE ${t.jobs} SET cancelled_at = now(), run_at = 'infinity'
    WHERE id = ${id}::uuid AND cancelled_at IS NULL
    RETURNING lease_token IS NULL AS waiting`;
}

/** Deletes a cancelled job that no worker holds. */
export function deleteCancelledWaiting(t: JobTables, id: string): SqlQuery {
  return sql`DELETE FROM ${t.jobs} WHERE id = ${id}::uuid AND cancelled_at IS NOT NULL AND lease_token IS NULL`;
}

export interface DeadLetterRow {
  seq: string;
  id: string;
  queue: string;
  payload: string;
  attempts: number;
  error_code: string;
  error_message: string;
  failed_at: Date;
}

export function listDeadLetters(
  t: JobTables,
  queue: string,
  afterSeq: string | undefined,
  limit: number,
): SqlQuery {
  const after = afterSeq === undefined ? sql.empty : sql`AND d.seq > ${afterSeq}::bigint`;
  // Qualified: a bare `ORDER BY seq` names the text output column, and "10" sorts before "9".
  return sql`SELECT d.seq::text AS seq, d.id::text AS id, d.queue, d.payload, d.attempts, d.error_code,
      d.error_message, d.failed_at
    FROM ${t.deadLetters} AS d WHERE d.queue = ${queue} ${after} ORDER BY d.seq LIMIT ${limit + 1}::int`;
}

/** Moves a dead letter back to its queue with a fresh set of attempts; returns its queue. */
export function redriveJob(t: JobTables, id: string): SqlQuery {
  return sql`WITH d AS (
      DELETE FROM ${t.deadLetters} WHERE id = ${id}::uuid RETURNING id, queue, payload, max_attempts
    )
    INSERT INTO ${t.jobs} (id, queue, payload, attempt, max_attempts, run_at)
    SELECT id, queue, payload, 0, max_attempts, now() FROM d
    RETURNING queue`;
}

/** Forgets idempotency keys older than the window, at most `limit` per call. */
export function purgeKeys(t: JobTables, windowMs: number, limit: number): SqlQuery {
  return sql`DELETE FROM ${t.keys} WHERE (queue, key) IN (
      SELECT queue, key FROM ${t.keys} WHERE created_at < now() - ${millis(windowMs)} LIMIT ${limit}::int
    )`;
}

/** Deletes cancelled jobs whose lease (if any) has ended, at most `limit` per call. */
export function purgeCancelled(t: JobTables, limit: number): SqlQuery {
  return sql`DELETE FROM ${t.jobs} WHERE id IN (
      SELECT id FROM ${t.jobs} WHERE cancelled_at IS NOT NULL AND (locked_until IS NULL OR locked_until < now())
      LIMIT ${limit}::int
    )`;
}
