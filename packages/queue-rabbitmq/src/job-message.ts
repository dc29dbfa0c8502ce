import type { ConsumeMessage } from "amqplib";
import { queueOfJobId } from "./names.js";

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

const NUMBER = /^(0|[1-9][0-9]{0,15})$/;
const KEY_HASH = /^[A-Za-z0-9_-]{43}$/;

/** The job a message carries, or `undefined` for a message without a (valid) job `type`. */
export function parseJobMessage(message: ConsumeMessage, queue: string): JobMessage | undefined {
  const type: unknown = message.properties.type;
  if (typeof type !== "string") return undefined;
  const parts = type.split(" ");
  if (parts[0] !== JOB_MESSAGE_TYPE || (parts.length !== 5 && parts.length !== 6)) return undefined;
  const [, attemptText, maxAttemptsText, dueAtText, id, keyHash] = parts as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (!NUMBER.test(attemptText) || !NUMBER.test(maxAttemptsText) || !NUMBER.test(dueAtText)) return undefined;
  const attempt = Number(attemptText);
  const maxAttempts = Number(maxAttemptsText);
  const dueAt = Number(dueAtText);
  if (
    queueOfJobId(id) !== queue ||
    !Number.isSafeInteger(attempt) ||
    attempt < 1 ||
    !Number.isSafeInteger(maxAttempts) ||
    maxAttempts < 1 ||
    !Number.isSafeInteger(dueAt) ||
    (keyHash !== undefined && !KEY_HASH.test(keyHash))
  ) {
    return undefined;
  }
  return { id, queue, attempt, maxAttempts, dueAt, keyHash };
}
