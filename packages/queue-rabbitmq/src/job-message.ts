import type { ConsumeMessage } from "amqplib";

/**
 * First word of the AMQP `type` property of a job message. The job rides in that one short string,
 * `job1 <attempt> <maxAttempts> <dueAt> <id>[ <keyHash>]`, not in a headers table: amqplib encodes
 * and decodes a table (and its 64-bit numbers) at several microseconds a message, a cost raw
 * amqplib producers do not pay, and the job's fields fit in the 255 bytes of a short string
 * (at most about 170).
 */
export const JOB_MESSAGE_TYPE = "job1";

/** One job as its message describes it (its body is the payload's JSON text). */
export interface JobMessage {
  id: string;
  queue: string;
  /** The attempt this message is, before redeliveries (`x-delivery-count`) are added. */
  attempt: number;
  maxAttempts: number;
  /** Not to be delivered before this time (milliseconds since the epoch). */
  dueAt: number;
  /** Hash of its idempotency key, when it has one. */
  keyHash: string | undefined;
}

/** The `type` property that carries `job`. */
export function jobMessageType(job: Omit<JobMessage, "queue">): string {
  const base = `${JOB_MESSAGE_TYPE} ${job.attempt} ${job.maxAttempts} ${job.dueAt} ${job.id}`;
  return job.keyHash === undefined ? base : `${base} ${job.keyHash}`;
}

/**
 * A job's `type`, read in one match: attempt, maxAttempts and dueAt as plain decimals (no sign, no
 * leading zero), the id (its queue, a dot, 30 characters of epoch and sealed block: see
 * `JobIdIssuer`), then, for a keyed job, the key's hash.
 */
const JOB_TYPE = new RegExp(
  `^${JOB_MESSAGE_TYPE} (0|[1-9][0-9]{0,15}) (0|[1-9][0-9]{0,15}) (0|[1-9][0-9]{0,15}) ` +
    "(([A-Za-z0-9][A-Za-z0-9_-]{0,63})\\.[A-Za-z0-9_-]{30})(?: ([A-Za-z0-9_-]{43}))?$",
);

/** The job a message carries, or `undefined` for a message without a (valid) job `type`. */
export function parseJobMessage(message: ConsumeMessage, queue: string): JobMessage | undefined {
  const type: unknown = message.properties.type;
  if (typeof type !== "string") return undefined;
  const match = JOB_TYPE.exec(type);
  if (match === null || match[5] !== queue) return undefined;
  const attempt = Number(match[1]);
  const maxAttempts = Number(match[2]);
  const dueAt = Number(match[3]);
  if (
    attempt < 1 ||
    maxAttempts < 1 ||
    !Number.isSafeInteger(attempt) ||
    !Number.isSafeInteger(maxAttempts) ||
    !Number.isSafeInteger(dueAt)
  ) {
    return undefined;
  }
  return { id: match[4] as string, queue, attempt, maxAttempts, dueAt, keyHash: match[6] };
}
