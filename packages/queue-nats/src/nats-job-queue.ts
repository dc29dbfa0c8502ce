import type { MsgHdrs, NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node";
import {
  closedError,
  DEFAULT_IDEMPOTENCY_WINDOW_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_JOB_PAYLOAD_BYTES,
  type DeadLetter,
  type EnqueueOptions,
  type EnqueueResult,
  encodeJobPayload,
  InfrastructureError,
  type JobCallOptions,
  type JobHandler,
  type JobQueue,
  type JobQueueCapabilities,
  type JobWorker,
  type JsonValue,
  type ListDeadLettersOptions,
  type Page,
  validateDeadLetterPageSize,
  validateEnqueueOptions,
  validateJobCallOptions,
  validateQueueName,
  validateWorkOptions,
  type WorkOptions,
} from "@proj/ports";
import {
  deadStreamConfig,
  JetStreamCalls,
  jobHeaders,
  jobsStreamConfig,
  MAX_ATTEMPTS_HEADER,
  MSG_ID_HEADER,
  NOT_BEFORE_HEADER,
  type StoredMessage,
  type StreamSettings,
} from "./jetstream.js";
import { mapNatsError } from "./map-nats-error.js";
import {
  deadSubject,
  jobId,
  messageIdOfKey,
  parseJobId,
  parseSequence,
  type QueueNames,
  queueNames,
  redriveSubject,
  validateNamespace,
} from "./names.js";
import { NatsLink, startDeadline } from "./nats-link.js";
import { type DeadLetterMove, NatsJobWorker, type WorkerHost } from "./nats-worker.js";

export interface NatsJobQueueOptions {
  /** Server address(es), `host:port` or `nats://host:port`. Default `127.0.0.1:4222`. */
  servers?: string | string[];
  /**
   * nats.js connection options (credentials, TLS, `pingInterval`, …) applied over the adapter's
   * defaults (see the README).
   */
  connection?: Omit<NodeConnectionOptions, "servers">;
  /**
   * Prefix of every stream and subject the adapter makes: queue `q` lives in streams
   * `<namespace>_jobs_q` and `<namespace>_dead_q`, on subjects `<namespace>.jobs.q…` and
   * `<namespace>.dead.q.…`. 1–32 of `A–Z a–z 0–9 -`, starting with a letter or digit. Default `proj`.
   */
  namespace?: string;
  /** Default deadline of every call, in milliseconds, waiting for a connection included. Default 10,000; `Infinity` for none. */
  timeoutMs?: number;
  /**
   * How long an idempotency key is remembered: the jobs streams' duplicate window. The server
   * keeps every key of the window in memory. Default 24 hours.
   */
  idempotencyWindowMs?: number;
  /** Largest payload, in UTF-8 bytes of its JSON text. Default 262,144 (the server's `max_payload` must exceed it by 2 KiB). */
  maxPayloadBytes?: number;
  /** Where the streams keep their messages. Default `file`. */
  storage?: "file" | "memory";
  /** Stream replicas (a clustered server). Default 1. */
  replicas?: number;
  /** Most jobs a queue holds (waiting, delayed, running); past it `enqueue` is `RESOURCE_EXHAUSTED`. Default unlimited. */
  maxJobs?: number;
  /** Most bytes a queue's stream holds; past it `enqueue` is `RESOURCE_EXHAUSTED`. Default unlimited. */
  maxBytes?: number;
  /**
   * Most jobs of a queue out with workers or waiting out a delay or a back-off, all workers
   * together (the consumer's `max_ack_pending`). Past it, ready jobs wait. Default 100,000.
   */
  maxAckPending?: number;
  /** How long dead letters are kept. Default 0: until redriven. */
  deadLetterMaxAgeMs?: number;
  /**
   * Told about failures outside any call: a worker that cannot reach its consumer, a lease renewal
   * or a dead-letter move that failed (each is retried), connection errors.
   */
  onError?: (error: InfrastructureError) => void;
}

const WHAT = "NATS job queue";
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ACK_PENDING = 100_000;
/** Room the server's `max_payload` needs beyond a payload: headers, and the dead letter's record. */
const PAYLOAD_HEADROOM_BYTES = 2_048;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function positiveInteger(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${name} must be an integer of at least ${min}, got ${String(value)}`);
  }
  return value;
}

function limit(value: unknown, name: string): number {
  return value === undefined ? -1 : positiveInteger(value, name, -1);
}

/** A dead letter as the dead-letter stream stores it (its id is in the subject). */
interface DeadRecord {
  attempts: number;
  maxAttempts: number;
  failedAt: number;
  error: { code: string; message: string };
  payload: JsonValue;
}

function deadRecordOf(message: StoredMessage, what: string): DeadRecord {
  let record: Partial<DeadRecord>;
  try {
    record = JSON.parse(Buffer.from(message.data ?? "", "base64").toString("utf8")) as Partial<DeadRecord>;
  } catch (cause) {
    throw new InfrastructureError("INTERNAL", `${what}: dead letter ${message.seq} is not JSON`, { cause });
  }
  const { attempts, maxAttempts, failedAt, error } = record;
  if (
    !Number.isSafeInteger(attempts) ||
    !Number.isSafeInteger(maxAttempts) ||
    !Number.isSafeInteger(failedAt) ||
    typeof error?.code !== "string" ||
    typeof error.message !== "string" ||
    !("payload" in record)
  ) {
    throw new InfrastructureError(
      "INTERNAL",
      `${what}: dead letter ${message.seq} is not a dead letter of this adapter`,
    );
  }
  return record as DeadRecord;
}

/** The body of a dead letter: built as text around the payload's stored JSON, which is not parsed again. */
function deadLetterBody(move: DeadLetterMove, failedAt: number): string {
  return `{"attempts":${move.attempts},"maxAttempts":${move.maxAttempts},"failedAt":${failedAt},"error":${JSON.stringify(
    move.error,
  )},"payload":${move.payloadText}}`;
}

/**
 * `JobQueue` on NATS JetStream (2.9 and later): a WorkQueue stream and one durable pull consumer
 * per queue, the consumer's ack wait as the lease, `nak` with a delay for retries and delayed jobs,
 * dead letters in a stream of their own. See the README for the design and its limits.
 */
export class NatsJobQueue implements JobQueue {
  readonly capabilities: JobQueueCapabilities;
  /** The prefix of this adapter's streams and subjects. */
  readonly namespace: string;
  readonly #link: NatsLink;
  readonly #calls: JetStreamCalls;
  readonly #settings: StreamSettings;
  readonly #timeoutMs: number;
  readonly #onError: ((error: InfrastructureError) => void) | undefined;
  readonly #workers = new Set<NatsJobWorker<never>>();
  readonly #host: WorkerHost;
  /** Stream and subject names by queue, made once (bounded: cleared past 1,000 queues). */
  readonly #queueNames = new Map<string, QueueNames>();
  #closing: Promise<void> | undefined;

  constructor(options: NatsJobQueueOptions = {}) {
    const namespace = options.namespace ?? "proj";
    validateNamespace(namespace);
    this.namespace = namespace;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (timeoutMs !== Number.POSITIVE_INFINITY) positiveInteger(timeoutMs, "timeoutMs", DEFAULT_TIMEOUT_MS);
    this.#timeoutMs = timeoutMs;
    const idempotencyWindowMs = positiveInteger(
      options.idempotencyWindowMs,
      "idempotencyWindowMs",
      DEFAULT_IDEMPOTENCY_WINDOW_MS,
      1_000,
    );
    const maxPayloadBytes = positiveInteger(
      options.maxPayloadBytes,
      "maxPayloadBytes",
      DEFAULT_MAX_JOB_PAYLOAD_BYTES,
    );
    const storage = options.storage ?? "file";
    if (storage !== "file" && storage !== "memory")
      throw invalid(`storage must be "file" or "memory", got ${String(storage)}`);
    this.#settings = {
      storage,
      replicas: positiveInteger(options.replicas, "replicas", 1),
      idempotencyWindowMs,
      maxJobs: limit(options.maxJobs, "maxJobs"),
      maxBytes: limit(options.maxBytes, "maxBytes"),
      maxAckPending: positiveInteger(options.maxAckPending, "maxAckPending", DEFAULT_MAX_ACK_PENDING),
      deadLetterMaxAgeMs: positiveInteger(options.deadLetterMaxAgeMs, "deadLetterMaxAgeMs", 0, 0),
    };
    this.capabilities = Object.freeze({ shared: true, idempotencyWindowMs, maxPayloadBytes });
    this.#onError = options.onError;
    this.#link = new NatsLink({
      servers: options.servers ?? "127.0.0.1:4222",
      connection: options.connection,
      name: `${WHAT} ${namespace}`,
      onError: options.onError,
    });
    this.#calls = new JetStreamCalls(this.#link, timeoutMs);
    this.#host = {
      link: this.#link,
      calls: this.#calls,
      settings: this.#settings,
      timeoutMs,
      report: (error, what) => this.#onError?.(mapNatsError(error, what)),
      moveToDeadLetters: (names, move) => this.#moveToDeadLetters(names, move),
      forget: (worker) => this.#workers.delete(worker as NatsJobWorker<never>),
    };
    if (maxPayloadBytes + PAYLOAD_HEADROOM_BYTES > 64 * 1024 * 1024) {
      throw invalid(
        `maxPayloadBytes must leave room under NATS' largest max_payload (64 MiB), got ${maxPayloadBytes}`,
      );
    }
  }

  /** The nats.js connection once it is made (for what the port does not cover); closing the queue closes it. */
  get connection(): NatsConnection | undefined {
    return this.#link.connection;
  }

  async enqueue(queue: string, payload: JsonValue, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    this.#ensureOpen("enqueue");
    validateQueueName(queue);
    const { idempotencyKey, delayMs, maxAttempts } = validateEnqueueOptions(options);
    const timeoutMs = validateJobCallOptions(options, this.#timeoutMs, "enqueue");
    const text = encodeJobPayload(payload, this.capabilities.maxPayloadBytes);
    const names = this.#names(queue);
    // The common job (default attempts, no delay, no key) is a message without headers.
    let headers: MsgHdrs | undefined;
    if (maxAttempts !== DEFAULT_MAX_ATTEMPTS) {
      headers = jobHeaders();
      headers.set(MAX_ATTEMPTS_HEADER, String(maxAttempts));
    }
    if (delayMs > 0) {
      headers ??= jobHeaders();
      headers.set(NOT_BEFORE_HEADER, String(Date.now() + delayMs));
    }
    if (idempotencyKey !== undefined) {
      headers ??= jobHeaders();
      headers.set(MSG_ID_HEADER, messageIdOfKey(idempotencyKey));
    }
    const ack = await this.#calls.publishTo(
      () => jobsStreamConfig(names, this.#settings),
      names.subject,
      text,
      headers,
      startDeadline(timeoutMs),
      options.signal,
      () => `enqueue on queue ${queue}`,
    );
    return { id: jobId(queue, ack.seq), duplicate: ack.duplicate === true };
  }

  work<P extends JsonValue = JsonValue>(
    queue: string,
    handler: JobHandler<P>,
    options: WorkOptions = {},
  ): JobWorker {
    this.#ensureOpen("work");
    validateQueueName(queue);
    if (typeof handler !== "function") throw invalid("handler must be a function");
    const valid = validateWorkOptions(options);
    const worker = new NatsJobWorker<P>(this.#host, this.#names(queue), handler, valid);
    this.#workers.add(worker as unknown as NatsJobWorker<never>);
    return worker;
  }

  async cancel(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#ensureOpen("cancel");
    const deadline = startDeadline(validateJobCallOptions(options, this.#timeoutMs, "cancel"));
    const job = parseJobId(id);
    if (job === undefined) return false;
    const names = this.#names(job.queue);
    const describe = () => `cancel of job ${id}`;
    // The job's first message, wherever it is: waiting, delayed, between attempts or running.
    if (await this.#calls.deleteMessage(names.jobsStream, job.sequence, deadline, options.signal, describe)) {
      return true;
    }
    // A redriven job lives on in a copy on a subject of its own.
    const copy = await this.#calls.getMessage(
      names.jobsStream,
      { last_by_subj: redriveSubject(names, job.sequence) },
      deadline,
      options.signal,
      describe,
    );
    if (copy === undefined) return false;
    return this.#calls.deleteMessage(names.jobsStream, copy.seq, deadline, options.signal, describe);
  }

  async listDeadLetters(queue: string, options: ListDeadLettersOptions = {}): Promise<Page<DeadLetter>> {
    this.#ensureOpen("listDeadLetters");
    validateQueueName(queue);
    const pageSize = validateDeadLetterPageSize(options);
    const deadline = startDeadline(validateJobCallOptions(options, this.#timeoutMs, "listDeadLetters"));
    let from = 1;
    if (options.after !== undefined) {
      const cursor = typeof options.after === "string" ? parseSequence(options.after) : undefined;
      if (cursor === undefined) throw invalid("after must be a nextCursor from an earlier page");
      from = cursor;
    }
    const names = this.#names(queue);
    const describe = () => `listing the dead letters of queue ${queue}`;
    const next = (seq: number) =>
      this.#calls.getMessage(
        names.deadStream,
        { seq, next_by_subj: names.deadWildcard },
        deadline,
        options.signal,
        describe,
      );
    const items: DeadLetter[] = [];
    let message = await next(from);
    while (message !== undefined && items.length < pageSize) {
      const record = deadRecordOf(message, describe());
      const sequence = parseSequence(message.subject.slice(message.subject.lastIndexOf(".") + 1));
      if (sequence === undefined)
        throw new InfrastructureError("INTERNAL", `${describe()}: unexpected subject ${message.subject}`);
      items.push({
        id: jobId(queue, sequence),
        queue,
        payload: record.payload,
        attempts: record.attempts,
        error: { code: record.error.code, message: record.error.message },
        failedAt: record.failedAt,
      });
      message = await next(message.seq + 1);
    }
    return message === undefined ? { items } : { items, nextCursor: String(message.seq) };
  }

  async redrive(id: string, options: JobCallOptions = {}): Promise<boolean> {
    this.#ensureOpen("redrive");
    const deadline = startDeadline(validateJobCallOptions(options, this.#timeoutMs, "redrive"));
    const job = parseJobId(id);
    if (job === undefined) return false;
    const names = this.#names(job.queue);
    const describe = () => `redrive of job ${id}`;
    const dead = await this.#calls.getMessage(
      names.deadStream,
      { last_by_subj: deadSubject(names, job.sequence) },
      deadline,
      options.signal,
      describe,
    );
    if (dead === undefined) return false;
    const record = deadRecordOf(dead, describe());
    const headers = jobHeaders();
    headers.set(MAX_ATTEMPTS_HEADER, String(record.maxAttempts));
    // A redrive sent twice (a retry after a lost reply) puts the job back once.
    headers.set(MSG_ID_HEADER, `redrive:${job.sequence}:${dead.seq}`);
    const ack = await this.#calls.publishTo(
      () => jobsStreamConfig(names, this.#settings),
      redriveSubject(names, job.sequence),
      JSON.stringify(record.payload),
      headers,
      deadline,
      options.signal,
      describe,
    );
    const removed = await this.#calls.deleteMessage(
      names.deadStream,
      dead.seq,
      deadline,
      options.signal,
      describe,
    );
    return !ack.duplicate || removed;
  }

  /**
   * Deletes a queue from the server: its streams, with every job, dead letter and idempotency key
   * in them, and its consumer. Workers of the queue stop getting jobs (and make it again if they
   * keep running). For tests and operators; not part of the port.
   */
  async deleteQueue(queue: string, options: JobCallOptions = {}): Promise<void> {
    this.#ensureOpen("deleteQueue");
    validateQueueName(queue);
    const deadline = startDeadline(validateJobCallOptions(options, this.#timeoutMs, "deleteQueue"));
    const names = this.#names(queue);
    await this.#calls.deleteStream(names.jobsStream, deadline, options.signal);
    await this.#calls.deleteStream(names.deadStream, deadline, options.signal);
  }

  /** Closes every worker this queue started (each with the default deadline), then the connection. Idempotent. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = (async () => {
        await Promise.allSettled([...this.#workers].map((worker) => worker.close()));
        await this.#link.close();
      })();
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #moveToDeadLetters(names: QueueNames, move: DeadLetterMove): Promise<void> {
    const job = parseJobId(move.id);
    if (job === undefined) throw new InfrastructureError("INTERNAL", `job id ${move.id} cannot be parsed`);
    const headers = jobHeaders();
    // The same delivery moved twice (a retried publish) is one dead letter.
    headers.set(MSG_ID_HEADER, `dead:${move.streamSequence}`);
    await this.#calls.publishTo(
      () => deadStreamConfig(names, this.#settings),
      deadSubject(names, job.sequence),
      deadLetterBody(move, Date.now()),
      headers,
      startDeadline(this.#timeoutMs),
      undefined,
      () => `moving job ${move.id} to the dead letters`,
    );
  }

  #names(queue: string): QueueNames {
    let names = this.#queueNames.get(queue);
    if (names === undefined) {
      if (this.#queueNames.size >= 1_000) this.#queueNames.clear();
      names = queueNames(this.namespace, queue);
      this.#queueNames.set(queue, names);
    }
    return names;
  }

  #ensureOpen(what: string): void {
    if (this.#closing !== undefined) throw closedError(`${WHAT} (${what})`);
  }
}
