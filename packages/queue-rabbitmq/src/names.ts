import { createHash, randomBytes } from "node:crypto";

/**
 * How the adapter names what it keeps on the broker. Port queue names hold no `.` (see
 * `validateQueueName`), so a derived name (`<prefix>.<queue>.wait.<ms>`) never collides with a
 * port queue's own (`<prefix>.<queue>`).
 */

/** Shortest wait queue: a job due sooner waits this long (the delay resolution's floor). */
export const MIN_WAIT_EXPONENT = 6;
/** Longest wait queue (2^24 ms, about 4 h 40 min): longer delays pass through it several times. */
export const MAX_WAIT_EXPONENT = 24;

/** Every wait-queue period in milliseconds, shortest first (19 of them). */
export const WAIT_PERIODS_MS: readonly number[] = Array.from(
  { length: MAX_WAIT_EXPONENT - MIN_WAIT_EXPONENT + 1 },
  (_, i) => 2 ** (MIN_WAIT_EXPONENT + i),
);

/**
 * The wait queue for a job due in `remainingMs`: the longest period not beyond it (so the job
 * never comes back late by more than the shortest period), or the shortest one for what is due
 * within it. The job returns to its queue when the period ends and, if still early, waits again
 * for what is left: at most one pass per period (the shortest may come twice: once for itself,
 * once to round up the rest), each time with less left.
 */
export function waitPeriodMs(remainingMs: number): number {
  if (remainingMs <= 2 ** MIN_WAIT_EXPONENT) return 2 ** MIN_WAIT_EXPONENT;
  const exponent = Math.min(MAX_WAIT_EXPONENT, Math.floor(Math.log2(remainingMs)));
  return 2 ** exponent;
}

export class QueueNames {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The quorum queue workers consume. */
  main(queue: string): string {
    return `${this.prefix}.${queue}`;
  }

  /** The quorum queue a job waits in for `periodMs` before it dead-letters back to `main`. */
  wait(queue: string, periodMs: number): string {
    return `${this.prefix}.${queue}.wait.${periodMs}`;
  }

  /** The stream of the queue's dead letters. */
  dead(queue: string): string {
    return `${this.prefix}.${queue}.dead`;
  }

  /** The (empty) classic queue whose existence claims an idempotency key. */
  claim(queue: string, keyHash: string): string {
    return `${this.prefix}.${queue}.key.${keyHash}`;
  }

  /** Every broker queue name `queue` may use but its key claims. */
  all(queue: string): string[] {
    return [
      this.main(queue),
      this.dead(queue),
      ...WAIT_PERIODS_MS.map((periodMs) => this.wait(queue, periodMs)),
    ];
  }
}

const JOB_ID = /^([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.([A-Za-z0-9_-]{22})$/;

/** A fresh job id: `<queue>.<128 random bits, base64url>`. The queue rides along for `cancel`/`redrive`. */
export function newJobId(queue: string): string {
  if (idPoolOffset + 16 > idPool.length) {
    // One CSPRNG call per 256 ids instead of one per enqueue (measurable at thousands a second).
    idPool = randomBytes(4096);
    idPoolOffset = 0;
  }
  const bits = idPool.toString("base64url", idPoolOffset, idPoolOffset + 16);
  idPoolOffset += 16;
  return `${queue}.${bits}`;
}

let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

/** The queue a job id names, or `undefined` for a string that is no job id of this adapter. */
export function queueOfJobId(id: unknown): string | undefined {
  if (typeof id !== "string") return undefined;
  return JOB_ID.exec(id)?.[1];
}

/**
 * An idempotency key as it appears in a claim queue's name: SHA-256 of its UTF-8 bytes, base64url
 * (43 characters). Keys are well-formed Unicode (checked by `validateEnqueueOptions`), so distinct
 * keys have distinct bytes.
 */
export function idempotencyKeyHash(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("base64url");
}

/** A random token telling one dead-lettering of a job from another. */
export function newNonce(): string {
  return randomBytes(9).toString("base64url");
}
