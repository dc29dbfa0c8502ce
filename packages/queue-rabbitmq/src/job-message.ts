import type { ConsumeMessage } from "amqplib";
import { queueOfJobId } from "./names.js";

/** The headers a job message carries (its body is the payload's JSON text). */
export const JOB_HEADERS = {
  id: "x-job-id",
  attempt: "x-job-attempt",
  maxAttempts: "x-job-max-attempts",
  dueAt: "x-job-due-at",
  key: "x-job-key",
} as const;

/** One job as its message headers describe it. */
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

/** The job a message carries, or `undefined` for a message without (valid) job headers. */
export function parseJobMessage(message: ConsumeMessage, queue: string): JobMessage | undefined {
  const headers = message.properties.headers;
  if (headers === undefined) return undefined;
  const id = headers[JOB_HEADERS.id];
  const attempt = headers[JOB_HEADERS.attempt];
  const maxAttempts = headers[JOB_HEADERS.maxAttempts];
  const dueAt = headers[JOB_HEADERS.dueAt];
  const keyHash = headers[JOB_HEADERS.key];
  if (
    typeof id !== "string" ||
    queueOfJobId(id) !== queue ||
    !Number.isSafeInteger(attempt) ||
    attempt < 1 ||
    !Number.isSafeInteger(maxAttempts) ||
    maxAttempts < 1 ||
    typeof dueAt !== "number" ||
    (keyHash !== undefined && typeof keyHash !== "string")
  ) {
    return undefined;
  }
  return { id, queue, attempt, maxAttempts, dueAt, keyHash };
}
