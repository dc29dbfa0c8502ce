import { createHash } from "node:crypto";
import { InfrastructureError } from "@proj/ports";

/**
 * Where a queue lives on the server. One queue is two streams:
 *
 * - `<namespace>_jobs_<queue>`, WorkQueue retention, subjects `<namespace>.jobs.<queue>` (a job's
 *   first message) and `<namespace>.jobs.<queue>.<n>` (job `<queue>.<n>` put back by `redrive`);
 *   one durable pull consumer, `workers`, shared by every worker of the queue;
 * - `<namespace>_dead_<queue>`, Limits retention, one subject per dead letter,
 *   `<namespace>.dead.<queue>.<n>`, at most one message per subject.
 *
 * Namespaces cannot hold `_`, so the first `_` of a stream name ends its namespace: no two
 * (namespace, queue) pairs share a stream.
 */
export interface QueueNames {
  readonly queue: string;
  readonly jobsStream: string;
  readonly deadStream: string;
  readonly consumer: string;
  /** Subject of a job's first message. */
  readonly subject: string;
  /** Subjects of redriven jobs, for the stream's configuration. */
  readonly redriveWildcard: string;
  readonly deadWildcard: string;
  /** `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`: where workers send pull requests. */
  readonly pullSubject: string;
}

const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;
/** Decimal stream sequences, as job ids and cursors carry them. */
const SEQUENCE = /^[1-9][0-9]{0,15}$/;
/** The queue-name rule of the port (`validateQueueName`), to parse ids without throwing. */
const QUEUE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const CONSUMER_NAME = "workers";

/** Throws `INVALID_ARGUMENT` unless `namespace` is 1–32 of `A–Z a–z 0–9 -`, starting with a letter or digit. */
export function validateNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `namespace must be 1-32 characters of A-Z a-z 0-9 - starting with a letter or digit, got ${
        typeof namespace === "string" ? JSON.stringify(namespace.slice(0, 40)) : typeof namespace
      }`,
      { retryable: false },
    );
  }
}

export function queueNames(namespace: string, queue: string): QueueNames {
  const jobsStream = `${namespace}_jobs_${queue}`;
  return {
    queue,
    jobsStream,
    deadStream: `${namespace}_dead_${queue}`,
    consumer: CONSUMER_NAME,
    subject: `${namespace}.jobs.${queue}`,
    redriveWildcard: `${namespace}.jobs.${queue}.*`,
    deadWildcard: `${namespace}.dead.${queue}.*`,
    pullSubject: `$JS.API.CONSUMER.MSG.NEXT.${jobsStream}.${CONSUMER_NAME}`,
  };
}

export function redriveSubject(names: QueueNames, sequence: number): string {
  return `${names.subject}.${sequence}`;
}

export function deadSubject(names: QueueNames, sequence: number): string {
  return `${names.deadWildcard.slice(0, -1)}${sequence}`;
}

/**
 * A job's id: its queue and the stream sequence of its first message (`reports.42`). The server
 * hands a duplicate publish the first message's sequence, so an idempotent enqueue gets the first
 * job's id for free. Ids restart if the queue's stream is deleted and made again.
 */
export function jobId(queue: string, sequence: number): string {
  return `${queue}.${sequence}`;
}

export interface ParsedJobId {
  queue: string;
  sequence: number;
}

/** The queue and sequence of a job id, or undefined for a string that no job of this adapter has. */
export function parseJobId(id: unknown): ParsedJobId | undefined {
  if (typeof id !== "string") return undefined;
  const dot = id.indexOf(".");
  if (dot < 0) return undefined;
  const queue = id.slice(0, dot);
  const digits = id.slice(dot + 1);
  if (!QUEUE.test(queue) || !SEQUENCE.test(digits)) return undefined;
  const sequence = Number(digits);
  return Number.isSafeInteger(sequence) ? { queue, sequence } : undefined;
}

/** A stream sequence from a cursor or an id's tail; undefined when it is not one. */
export function parseSequence(text: string): number | undefined {
  if (!SEQUENCE.test(text)) return undefined;
  const sequence = Number(text);
  return Number.isSafeInteger(sequence) ? sequence : undefined;
}

/**
 * The job id a delivered message carries: a redriven copy names its job in its subject's last
 * token, a first message is its own sequence.
 */
export function deliveredJobId(names: QueueNames, subject: string, streamSequence: number): string {
  if (subject.length > names.subject.length) {
    const tail = parseSequence(subject.slice(names.subject.length + 1));
    if (tail !== undefined) return jobId(names.queue, tail);
  }
  return jobId(names.queue, streamSequence);
}

/**
 * `Nats-Msg-Id` of an idempotency key: a digest, so any Unicode key (up to 256 bytes, CR and LF
 * included) makes a short, header-safe id, and keys that differ in one byte stay apart.
 */
export function messageIdOfKey(key: string): string {
  return `k:${createHash("sha256").update(key, "utf8").digest("base64url")}`;
}

export interface AckReply {
  /** How many times the server has delivered this message (this delivery included). */
  deliveryCount: number;
  streamSequence: number;
}

/**
 * Reads a JetStream delivery's reply subject:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>` (servers
 * up to 2.9), or with `<domain>.<account hash>` after `$JS.ACK` and a random token at the end.
 */
export function parseAckReply(reply: string | undefined): AckReply | undefined {
  if (reply === undefined || !reply.startsWith("$JS.ACK.")) return undefined;
  const tokens = reply.split(".");
  const offset = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  if (offset < 0) return undefined;
  const deliveryCount = Number(tokens[offset]);
  const streamSequence = Number(tokens[offset + 1]);
  if (!Number.isSafeInteger(deliveryCount) || deliveryCount < 1) return undefined;
  if (!Number.isSafeInteger(streamSequence) || streamSequence < 1) return undefined;
  return { deliveryCount, streamSequence };
}

/** Milliseconds as the server's nanosecond durations, exact beyond 2^53 ns. */
export function nanos(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}
