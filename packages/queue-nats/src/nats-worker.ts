import { createInbox, type Msg, type Subscription } from "@nats-io/transport-node";
import {
  closedError,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_WORKER_CLOSE_DEADLINE_MS,
  decodeJobPayload,
  InfrastructureError,
  isFinalJobError,
  type JobDelivery,
  type JobHandler,
  type JobWorker,
  type JsonValue,
  retryDelayMs,
  summarizeJobError,
  type ValidWorkOptions,
  type WorkerCloseOptions,
} from "@proj/ports";
import {
  consumerConfig,
  type JetStreamCalls,
  jobsStreamConfig,
  MAX_ATTEMPTS_HEADER,
  NOT_BEFORE_HEADER,
  type StreamSettings,
} from "./jetstream.js";
import { deliveredJobId, nanos, parseAckReply, type QueueNames } from "./names.js";
import { type NatsLink, reconnectDelay, startDeadline } from "./nats-link.js";

/** How long one pull request stays open at the server. */
const PULL_EXPIRES_MS = 30_000;
/** The server sends an idle heartbeat this often on an open pull request with nothing to deliver. */
const PULL_HEARTBEAT_MS = 5_000;
/** Two heartbeats missed (and a second of slack): the session is replaced. */
const PULL_SILENCE_MS = 2 * PULL_HEARTBEAT_MS + 1_000;
/** After a pull request is refused (409), the worker asks again this much later. */
const STATUS_RETRY_MS = 1_000;
/** How long `close()` waits for deliveries already on their way when it unsubscribes. */
const DRAIN_MS = 2_000;

/** What a worker needs from the adapter that started it. */
export interface WorkerHost {
  readonly link: NatsLink;
  readonly calls: JetStreamCalls;
  readonly settings: StreamSettings;
  readonly timeoutMs: number;
  report(error: unknown, what: string): void;
  /** Publishes a dead letter for the job (within `timeoutMs`); throws when it could not. */
  moveToDeadLetters(names: QueueNames, job: DeadLetterMove): Promise<void>;
  forget(worker: JobWorker): void;
}

/** A job on its way to the dead letters. */
export interface DeadLetterMove {
  id: string;
  streamSequence: number;
  attempts: number;
  maxAttempts: number;
  error: { code: string; message: string };
  /** The job's payload as stored (JSON text). */
  payloadText: string;
}

/**
 * Pull requests answered on one inbox (`<inbox>.<n>` per request). Deliveries carry their stream
 * subject, not the request's, so the worker counts what all open requests may still bring
 * (`requested`): one less per delivery, and what the server says was left undelivered when a
 * request expires (its `408` status carries `Nats-Pending-Messages`). A session belongs to one
 * connection: when the connection is lost, the server forgets its pull requests, and so does the
 * worker.
 */
interface Session {
  readonly inbox: string;
  readonly sub: Subscription;
  lastHeard: number;
  nextPull: number;
}

/**
 * - `running`: the handler runs (or its outcome is being sent);
 * - `finishing`: the job is being moved to the dead letters, its lease still renewed;
 * - `over`: its outcome is settled, or it was cancelled, lost or released: nothing more is sent.
 */
type Phase = "running" | "finishing" | "over";

class ActiveJob {
  phase: Phase = "running";
  handlerDone = false;
  payloadText = "null";
  /** When the lease was last known to hold (`performance.now()`): the delivery, then each confirmed renewal. */
  confirmedAt = performance.now();
  renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** Armed only while a renewal is unconfirmed: fires when the lease must have run out. */
  leaseTimer: ReturnType<typeof setTimeout> | undefined;
  // The handler's signal is made when the handler first reads it: most never do.
  #controller: AbortController | undefined;
  #reason: InfrastructureError | undefined;

  constructor(
    readonly id: string,
    readonly reply: string,
    readonly streamSequence: number,
    readonly attempt: number,
    readonly maxAttempts: number,
  ) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: InfrastructureError): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Reads the phase afresh (after an await, it may have changed). */
function isOver(job: ActiveJob): boolean {
  return job.phase === "over";
}

function parseMaxAttempts(text: string | undefined): number {
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= 1 ? value : DEFAULT_MAX_ATTEMPTS;
}

function validateDeadline(deadlineMs: unknown): number {
  if (deadlineMs === undefined) return DEFAULT_WORKER_CLOSE_DEADLINE_MS;
  if (
    deadlineMs === Number.POSITIVE_INFINITY ||
    (typeof deadlineMs === "number" && Number.isSafeInteger(deadlineMs) && deadlineMs >= 0)
  ) {
    return deadlineMs;
  }
  throw new InfrastructureError(
    "INVALID_ARGUMENT",
    `deadlineMs must be a non-negative integer of milliseconds or Infinity, got ${String(deadlineMs)}`,
    { retryable: false },
  );
}

/**
 * A worker of one queue: a session of pull requests on the queue's durable consumer that never asks
 * for more deliveries than it has free handler slots (so no delivery waits in a buffer while its
 * lease runs), lease renewal (`+WPI`) every leaseMs/3 with a check that the job still exists (a
 * cancelled job's message is deleted), and the outcome of each attempt: `+ACK`, `-NAK` with the
 * back-off as delay, or a move to the dead letters then `+TERM`.
 */
export class NatsJobWorker<P extends JsonValue = JsonValue> implements JobWorker {
  readonly queue: string;
  readonly #host: WorkerHost;
  readonly #names: QueueNames;
  readonly #handler: JobHandler<P>;
  readonly #options: ValidWorkOptions;
  readonly #renewEveryMs: number;
  /** Free slots worth a new pull request while another one is still open. */
  readonly #threshold: number;
  readonly #jobs = new Set<ActiveJob>();
  /** Wakes sleeping retries (setup, dead-letter moves) once the worker has stopped. */
  readonly #stop = new AbortController();
  readonly #unlisten: () => void;
  readonly #watchdog: ReturnType<typeof setInterval>;
  #state: "running" | "closing" | "closed" = "running";
  #session: Session | undefined;
  /** Deliveries the current session's open pull requests may still bring. */
  #requested = 0;
  /** The stream and the consumer exist (as far as the worker knows). */
  #ready = false;
  #settingUp = false;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #onSignal: (() => void) | undefined;

  constructor(host: WorkerHost, names: QueueNames, handler: JobHandler<P>, options: ValidWorkOptions) {
    this.#host = host;
    this.#names = names;
    this.queue = names.queue;
    this.#handler = handler;
    this.#options = options;
    this.#renewEveryMs = Math.max(100, Math.floor(options.leaseMs / 3));
    this.#threshold = Math.max(1, Math.ceil(options.concurrency / 2));
    this.#unlisten = host.link.listen({
      disconnected: () => this.#dropSession(),
      reconnected: () => this.#openSession(),
    });
    this.#watchdog = setInterval(() => this.#watch(), PULL_HEARTBEAT_MS);
    const { signal } = options;
    if (signal !== undefined) {
      this.#onSignal = () => void this.close();
      if (signal.aborted) queueMicrotask(this.#onSignal);
      else signal.addEventListener("abort", this.#onSignal, { once: true });
    }
    void this.#setup();
  }

  get running(): number {
    return this.#jobs.size;
  }

  close(options: WorkerCloseOptions = {}): Promise<void> {
    if (this.#closing === undefined) {
      let deadlineMs: number;
      try {
        deadlineMs = validateDeadline(options.deadlineMs);
      } catch (error) {
        return Promise.reject(error);
      }
      this.#closing = this.#shutdown(deadlineMs);
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(deadlineMs: number): Promise<void> {
    this.#state = "closing";
    clearInterval(this.#watchdog);
    this.#unlisten();
    if (this.#onSignal !== undefined) this.#options.signal?.removeEventListener("abort", this.#onSignal);
    // Unsubscribing makes the server drop the open pull requests; what it already sent still
    // arrives during the drain and is released at once (the worker is closing).
    const session = this.#session;
    this.#session = undefined;
    this.#requested = 0;
    const drained = session === undefined ? Promise.resolve() : session.sub.drain().catch(() => undefined);
    if (this.#jobs.size > 0 && deadlineMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        if (deadlineMs !== Number.POSITIVE_INFINITY)
          timer = setTimeout(resolve, Math.min(deadlineMs, 2_147_483_647));
      });
      clearTimeout(timer);
      this.#idle = undefined;
    }
    for (const job of [...this.#jobs]) {
      if (job.phase !== "over") {
        this.#abort(job, closedError(`the worker of queue ${this.queue} (the job was released)`));
        this.#host.link.publish(job.reply, "-NAK");
        this.#end(job);
      }
      this.#jobs.delete(job);
    }
    this.#stop.abort();
    await withTimeout(drained, DRAIN_MS);
    this.#state = "closed";
    this.#host.forget(this);
  }

  async #setup(): Promise<void> {
    if (this.#settingUp) return;
    this.#settingUp = true;
    this.#ready = false;
    this.#dropSession();
    try {
      for (let attempt = 1; this.#state === "running"; attempt++) {
        const deadline = startDeadline(this.#host.timeoutMs);
        try {
          await this.#host.calls.ensureStream(
            jobsStreamConfig(this.#names, this.#host.settings),
            deadline,
            undefined,
          );
          await this.#host.calls.ensureConsumer(
            this.#names,
            consumerConfig(this.#names, this.#options.leaseMs, this.#host.settings),
            deadline,
          );
          this.#ready = true;
          this.#openSession();
          return;
        } catch (error) {
          if (this.#state !== "running") return;
          this.#host.report(error, `starting the worker of queue ${this.queue}`);
          await sleep(reconnectDelay(attempt), this.#stop.signal);
        }
      }
    } finally {
      this.#settingUp = false;
    }
  }

  #openSession(): void {
    if (this.#state !== "running" || !this.#ready || this.#session !== undefined) return;
    const inbox = createInbox();
    let session: Session | undefined;
    const sub = this.#host.link.subscribe(`${inbox}.*`, (msg) => {
      if (session !== undefined) this.#onMessage(session, msg);
    });
    if (sub === undefined) return;
    session = { inbox, sub, lastHeard: performance.now(), nextPull: 0 };
    this.#session = session;
    this.#requested = 0;
    this.#pull();
  }

  /** The connection is gone, and with it the server's record of the session's pull requests. */
  #dropSession(): void {
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    this.#requested = 0;
    try {
      session.sub.unsubscribe();
    } catch {
      // Already closed with its connection.
    }
  }

  /** The connection is up but the session went silent: drain it (late deliveries are still handled) and start afresh. */
  #retireSession(): void {
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    this.#requested = 0;
    session.sub.drain().catch(() => undefined);
  }

  /** Asks for as many deliveries as there are free slots (batched once some are already asked for). */
  #pull(): void {
    const session = this.#session;
    if (session === undefined || this.#state !== "running") return;
    const free = this.#options.concurrency - this.#jobs.size - this.#requested;
    if (free <= 0 || (this.#requested > 0 && free < this.#threshold)) return;
    if (this.#requested === 0) session.lastHeard = performance.now();
    this.#requested += free;
    this.#host.link.publish(
      this.#names.pullSubject,
      `{"batch":${free},"expires":${nanos(PULL_EXPIRES_MS)},"idle_heartbeat":${nanos(PULL_HEARTBEAT_MS)}}`,
      `${session.inbox}.${++session.nextPull}`,
    );
  }

  /** Every few seconds: a silent session is replaced, a missing one opened, a lost setup retried. */
  #watch(): void {
    if (this.#state !== "running") return;
    if (!this.#ready) {
      void this.#setup();
      return;
    }
    const session = this.#session;
    if (session === undefined) {
      if (this.#host.link.connected) this.#openSession();
      return;
    }
    if (this.#requested > 0 && performance.now() - session.lastHeard > PULL_SILENCE_MS) {
      // No delivery, status or heartbeat for two heartbeat periods: the server ignores pull
      // requests for a consumer that does not exist, and a connection may have gone dark. Make
      // sure of the stream and the consumer, then ask afresh.
      this.#host.report(
        new InfrastructureError(
          "UNAVAILABLE",
          `the pull requests of queue ${this.queue} went unanswered; starting again`,
        ),
        `the worker of queue ${this.queue}`,
      );
      this.#retireSession();
      void this.#setup();
      return;
    }
    this.#pull();
  }

  #onMessage(session: Session, msg: Msg): void {
    session.lastHeard = performance.now();
    const status = msg.headers?.code ?? 0;
    if (!msg.reply) {
      if (status > 0) this.#onStatus(session, msg, status);
      return;
    }
    if (session === this.#session && this.#requested > 0) this.#requested -= 1;
    this.#deliver(msg, msg.reply);
  }

  #onStatus(session: Session, msg: Msg, status: number): void {
    if (status === 100 || session !== this.#session) return; // an idle heartbeat, or an old session
    const description = msg.headers?.description ?? "";
    if (status === 408) {
      // The request expired: the server says how much of its batch it did not deliver.
      const left = Number(msg.headers?.get("Nats-Pending-Messages"));
      this.#requested = Number.isSafeInteger(left) && left >= 0 ? Math.max(0, this.#requested - left) : 0;
      this.#pull();
      return;
    }
    if (status === 503 || (status === 409 && /consumer (deleted|is push based)/i.test(description))) {
      // The stream or its consumer is gone (deleted, or lost by a server restart): make them again.
      this.#host.report(
        new InfrastructureError(
          "UNAVAILABLE",
          `the consumer of queue ${this.queue} is missing (${status} ${description})`,
        ),
        `the worker of queue ${this.queue}`,
      );
      void this.#setup();
      return;
    }
    // Any other status ends a request without saying how much of it was left (409 "Exceeded
    // MaxWaiting", "Leadership Change" and the like): a fresh session, whose count starts from
    // zero, a second later (the condition may last: no loop of refused requests). The old one
    // drains, so what it still brings is handled or released.
    this.#host.report(
      new InfrastructureError(
        "UNAVAILABLE",
        `a pull request of queue ${this.queue} ended: ${status} ${description}`,
      ),
      `the worker of queue ${this.queue}`,
    );
    this.#retireSession();
    setTimeout(() => this.#openSession(), STATUS_RETRY_MS);
  }

  #deliver(msg: Msg, reply: string): void {
    const info = parseAckReply(reply);
    if (info === undefined) {
      this.#host.report(
        new InfrastructureError(
          "INTERNAL",
          `a delivery of queue ${this.queue} has an unreadable reply subject`,
        ),
        `the worker of queue ${this.queue}`,
      );
      this.#pull();
      return;
    }
    const headers = msg.headers;
    const notBefore = Number(headers?.get(NOT_BEFORE_HEADER) || 0);
    if (notBefore > 0) {
      // A delayed job's first delivery is never run: it goes back for the rest of its delay (a
      // closing worker does the same). So every later delivery counts: attempt = deliveries - 1.
      const wait = notBefore - Date.now();
      if (info.deliveryCount === 1 || wait > 0) {
        this.#host.link.publish(reply, wait > 0 ? `-NAK {"delay":${nanos(wait)}}` : "-NAK");
        this.#pull();
        return;
      }
    }
    if (this.#state !== "running" || this.#jobs.size >= this.#options.concurrency) {
      // Closing (or more came than asked for): back to the queue at once, for another worker.
      this.#host.link.publish(reply, "-NAK");
      return;
    }
    const attempt = info.deliveryCount - (notBefore > 0 ? 1 : 0);
    const maxAttempts = parseMaxAttempts(headers?.get(MAX_ATTEMPTS_HEADER));
    const job = new ActiveJob(
      deliveredJobId(this.#names, msg.subject, info.streamSequence),
      reply,
      info.streamSequence,
      attempt,
      maxAttempts,
    );
    this.#jobs.add(job);
    this.#scheduleRenewal(job);
    const text = msg.string();
    if (attempt > maxAttempts) {
      // The last attempt's worker died (or lost the server) before it could say how it ended.
      job.payloadText = text;
      job.handlerDone = true;
      void this.#deadLetter(
        job,
        {
          code: "UNAVAILABLE",
          message: `the lease of attempt ${maxAttempts} ran out: its worker died or lost the broker`,
        },
        maxAttempts,
      );
      return;
    }
    let payload: JsonValue;
    try {
      payload = decodeJobPayload(text);
    } catch (error) {
      job.handlerDone = true;
      void this.#deadLetter(job, summarizeJobError(error), attempt - 1);
      return;
    }
    job.payloadText = text;
    const delivery: JobDelivery<P> = {
      id: job.id,
      queue: this.queue,
      payload: payload as P,
      attempt,
      maxAttempts,
      get signal() {
        return job.signal;
      },
    };
    let result: Promise<void>;
    try {
      result = Promise.resolve(this.#handler(delivery));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      () => this.#settled(job, true, undefined),
      (error: unknown) => this.#settled(job, false, error),
    );
  }

  #settled(job: ActiveJob, ok: boolean, error: unknown): void {
    job.handlerDone = true;
    if (job.phase !== "running") {
      // Cancelled, lost or released meanwhile: the outcome is no longer this worker's to tell.
      this.#end(job);
      return;
    }
    if (ok) {
      this.#host.link.publish(job.reply, "+ACK");
      this.#end(job);
      return;
    }
    if (!isFinalJobError(error) && job.attempt < job.maxAttempts) {
      const delay = retryDelayMs(job.attempt, this.#options.backoff);
      this.#host.link.publish(job.reply, `-NAK {"delay":${nanos(delay)}}`);
      this.#end(job);
      return;
    }
    void this.#deadLetter(job, summarizeJobError(error), job.attempt);
  }

  /** Publishes the dead letter (retrying while the lease holds), then ends the job's message. */
  async #deadLetter(
    job: ActiveJob,
    error: { code: string; message: string },
    attempts: number,
  ): Promise<void> {
    job.phase = "finishing";
    const move: DeadLetterMove = {
      id: job.id,
      streamSequence: job.streamSequence,
      attempts,
      maxAttempts: job.maxAttempts,
      error,
      payloadText: job.payloadText,
    };
    for (let attempt = 1; job.phase === "finishing"; attempt++) {
      try {
        await this.#host.moveToDeadLetters(this.#names, move);
        if (job.phase !== "finishing") return;
        this.#host.link.publish(job.reply, "+TERM");
        this.#end(job);
        return;
      } catch (failure) {
        if (job.phase !== "finishing") return;
        this.#host.report(failure, `moving job ${job.id} to the dead letters`);
        await sleep(reconnectDelay(attempt), this.#stop.signal);
      }
    }
  }

  /** Aborts the handler when the lease must have run out: `leaseMs` after its last confirmed renewal. */
  #armLease(job: ActiveJob): void {
    if (job.leaseTimer !== undefined) return;
    job.leaseTimer = setTimeout(
      () => {
        job.leaseTimer = undefined;
        if (job.phase === "over") return;
        this.#abort(
          job,
          new InfrastructureError(
            "UNAVAILABLE",
            `the lease on job ${job.id} ran out: it could not be renewed for ${this.#options.leaseMs} ms`,
          ),
        );
        this.#end(job);
      },
      Math.max(0, job.confirmedAt + this.#options.leaseMs - performance.now()),
    );
  }

  #scheduleRenewal(job: ActiveJob): void {
    job.renewTimer = setTimeout(() => void this.#renew(job), this.#renewEveryMs);
  }

  /** `+WPI` restarts the server's ack wait; reading the message back confirms it and tells a cancel. */
  async #renew(job: ActiveJob): Promise<void> {
    if (job.phase === "over") return;
    const sentAt = performance.now();
    this.#host.link.publish(job.reply, "+WPI");
    try {
      const stored = await this.#host.calls.getMessage(
        this.#names.jobsStream,
        { seq: job.streamSequence },
        startDeadline(this.#renewEveryMs),
        undefined,
        () => `renewing the lease on job ${job.id}`,
      );
      if (isOver(job)) return;
      if (stored === undefined) {
        this.#abort(
          job,
          new InfrastructureError("CANCELLED", `job ${job.id} was cancelled`, { retryable: false }),
        );
        this.#end(job);
        return;
      }
      job.confirmedAt = sentAt;
      if (job.leaseTimer !== undefined) clearTimeout(job.leaseTimer);
      job.leaseTimer = undefined;
    } catch (error) {
      if (isOver(job)) return;
      this.#host.report(error, `renewing the lease on job ${job.id}`);
      this.#armLease(job);
    }
    this.#scheduleRenewal(job);
  }

  #abort(job: ActiveJob, reason: InfrastructureError): void {
    job.abort(reason);
  }

  /** Nothing more is sent for the job; its slot frees once its handler has returned. */
  #end(job: ActiveJob): void {
    job.phase = "over";
    if (job.renewTimer !== undefined) clearTimeout(job.renewTimer);
    if (job.leaseTimer !== undefined) clearTimeout(job.leaseTimer);
    job.renewTimer = undefined;
    job.leaseTimer = undefined;
    if (!job.handlerDone || !this.#jobs.delete(job)) return;
    if (this.#jobs.size === 0) this.#idle?.();
    this.#pull();
  }
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
