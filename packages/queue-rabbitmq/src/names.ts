import { type Cipher, createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

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

const JOB_ID = /^([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.([A-Za-z0-9_-]{8})([A-Za-z0-9_-]{22})$/;

/** Ids sealed per cipher call (one call per 256 enqueues instead of one per enqueue). */
const IDS_PER_BATCH = 256;
/** Ids per epoch: a cancel makes the other jobs of its epoch take the slower check (see README). */
const IDS_PER_EPOCH = 65_536;
/** Longest an epoch issues ids, so that a slow producer's epochs stay small groups too. */
const EPOCH_MS = 3_600_000;

/**
 * Issues job ids `cancel` can recognise without a state write per job: `<queue>.<epoch><block>`,
 * where the epoch (48 random bits, 8 base64url characters) names a group of ids and its key, and
 * the block (22 characters) is a 16-byte AES-128 block, encrypted under the epoch's key, of a
 * counter and eight zero bytes. A new epoch (and key) starts every 65,536 ids or every hour. Ids
 * are unique (a counter under one key, a fresh epoch per key) and cannot be guessed; whoever holds
 * the epoch's key (the state's epoch record) tells an id it sealed from any other string of the
 * same shape: the block decrypts to eight zero bytes.
 */
export class JobIdIssuer {
  #epoch = "";
  #key = "";
  #cipher: Cipher | undefined;
  #startedAt = 0;
  #issued = 0;
  #pool = "";
  #offset = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#rotate();
  }

  /** The epoch of the ids issued now. */
  get epoch(): string {
    return this.#epoch;
  }

  /** The current epoch's AES-128 key, base64url: what its epoch record in the state holds. */
  get key(): string {
    return this.#key;
  }

  next(queue: string): string {
    if (this.#issued === IDS_PER_EPOCH || this.#now() - this.#startedAt >= EPOCH_MS) this.#rotate();
    if (this.#offset === this.#pool.length) this.#refill();
    const block = this.#pool.slice(this.#offset, this.#offset + 22);
    this.#offset += 22;
    this.#issued += 1;
    return `${queue}.${this.#epoch}${block}`;
  }

  #rotate(): void {
    this.#epoch = randomBytes(6).toString("base64url");
    const key = randomBytes(16);
    this.#key = key.toString("base64url");
    this.#cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
    this.#startedAt = this.#now();
    this.#issued = 0;
    this.#pool = "";
    this.#offset = 0;
  }

  #refill(): void {
    const plain = Buffer.alloc(16 * IDS_PER_BATCH);
    for (let i = 0; i < IDS_PER_BATCH; i++) plain.writeBigUInt64BE(BigInt(this.#issued + i), 16 * i);
    const sealed = (this.#cipher as Cipher).update(plain);
    const blocks: string[] = [];
    for (let i = 0; i < IDS_PER_BATCH; i++) blocks.push(sealed.toString("base64url", 16 * i, 16 * i + 16));
    this.#pool = blocks.join("");
    this.#offset = 0;
  }
}

/** The queue a job id names, or `undefined` for a string that is no job id of this adapter. */
export function queueOfJobId(id: unknown): string | undefined {
  if (typeof id !== "string") return undefined;
  return JOB_ID.exec(id)?.[1];
}

/** The epoch (issuer) a job id names; `undefined` for a string that is no job id. */
export function epochOfJobId(id: string): string | undefined {
  return JOB_ID.exec(id)?.[2];
}

/**
 * The epoch of an id already known to be one of this adapter's (issued here, or read from a job
 * message whose `type` matched): its 8 characters before the block, without the full match
 * `epochOfJobId` needs for a string from a caller.
 */
export function epochOfWellFormedJobId(id: string): string {
  return id.slice(-30, -22);
}

/**
 * The block of an id this adapter issued (its last 22 characters): unique within its epoch, since
 * each encrypts a counter the epoch's issuer never repeats.
 */
export function blockOfJobId(id: string): string {
  return id.slice(-22);
}

/**
 * Whether `id` was issued under `key` (an epoch record's value): its block decrypts to a counter
 * and eight zero bytes, and is written in the one form the issuer writes (base64url leaves the
 * last character's low bits free: without the check, four spellings would pass for one id).
 */
export function isIssuedJobId(id: string, key: string): boolean {
  const match = JOB_ID.exec(id);
  if (match === null) return false;
  const sealed = Buffer.from(match[3] as string, "base64url");
  if (sealed.length !== 16 || sealed.toString("base64url") !== match[3]) return false;
  const keyBytes = Buffer.from(key, "base64url");
  if (keyBytes.length !== 16) return false;
  const plain = createDecipheriv("aes-128-ecb", keyBytes, null).setAutoPadding(false).update(sealed);
  return plain.readBigUInt64BE(8) === 0n;
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
