import {
  DEFAULT_WORKER_CLOSE_DEADLINE_MS,
  decodeJobPayload,
  InfrastructureError,
  isFinalJobError,
  isInfrastructureError,
  type JobHandler,
  type JobWorker,
  retryDelayMs,
  summarizeJobError,
  type ValidWorkOptions,
  type WorkerCloseOptions,
} from "@proj/ports";
import type { Channel, ConsumeMessage } from "amqplib";
import { bounded, type Deadline, pause, reconnectDelayMs, startDeadline } from "./deadline.js";
import { type JobMessage, parseJobMessage } from "./job-message.js";
import { closeQuietly } from "./link.js";
import { mapAmqpError } from "./map-amqp-error.js";
import type { RabbitMqJobQueue } from "./rabbitmq-job-queue.js";

/** One message a worker holds (unacknowledged) from delivery until it acks or releases it. */
interface Delivery {
  readonly channel: Channel;
  readonly message: ConsumeMessage;
  readonly controller: AbortController;
  /** The channel died: RabbitMQ delivers the message again; nothing more may be done with it. */
  lost: boolean;
  /** Released (nacked back) at the close deadline. */
  released: boolean;
  /** A cancellation mark was seen while the handler ran. */
  cancelled: boolean;
  settled: boolean;
  renewing: boolean;
  /** When its handler started (`performance.now()`), while it runs. */
  runningSince: number | undefined;
  jobId: string | undefined;
}

const ABANDONED = Symbol("abandoned");

/** The most each step of a close (stop the consumer, close the channel) waits on the broker. */
const CLOSE_STEP_MS = 2_000;

/**
 * Consumes one queue on a channel of its own with `prefetch = concurrency`, so RabbitMQ never
 * hands it more jobs than it may run. The lease is RabbitMQ's: a delivery stays with this worker
 * while its channel lives (bounded by the broker's `consumer_timeout`); when the channel or the
 * connection dies, RabbitMQ delivers the job again at once, and the handler's signal fires. While
 * a handler runs, the worker checks every `leaseMs / 3` whether the job was cancelled.
 */
export class RabbitMqWorker implements JobWorker {
  readonly queue: string;
  /** Resolves once the worker has stopped. */
  readonly closed: Promise<void>;

  readonly #host: RabbitMqJobQueue;
  readonly #handler: JobHandler;
  readonly #options: ValidWorkOptions;
  readonly #stopping = new AbortController();
  readonly #deliveries = new Set<Delivery>();
  readonly #deadChannels = new WeakSet<Channel>();
  #idle: Array<() => void> = [];
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #subscribing = false;
  #handlers = 0;
  #closing: Promise<void> | undefined;
  #markClosed: () => void = () => undefined;
  #renewals: ReturnType<typeof setInterval> | undefined;

  constructor(host: RabbitMqJobQueue, queue: string, handler: JobHandler, options: ValidWorkOptions) {
    this.#host = host;
    this.queue = queue;
    this.#handler = handler;
    this.#options = options;
    this.closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
  }

  get running(): number {
    return this.#handlers;
  }

  /** Starts consuming (in the background: connection failures are retried, not thrown). */
  start(): void {
    const { signal } = this.#options;
    if (signal !== undefined) {
      if (signal.aborted) {
        void this.close();
        return;
      }
      signal.addEventListener("abort", () => void this.close(), { once: true });
    }
    // One timer for the worker: every leaseMs / 3, each handler running that long is checked.
    const everyMs = Math.max(100, Math.floor(this.#options.leaseMs / 3));
    this.#renewals = setInterval(() => {
      const due = performance.now() - everyMs;
      for (const delivery of this.#deliveries) {
        if (
          delivery.runningSince !== undefined &&
          delivery.runningSince <= due &&
          delivery.jobId !== undefined
        ) {
          void this.#renew(delivery, delivery.jobId);
        }
      }
    }, everyMs);
    void this.#subscribeLoop();
  }

  close(options: WorkerCloseOptions = {}): Promise<void> {
    const deadlineMs = options.deadlineMs ?? DEFAULT_WORKER_CLOSE_DEADLINE_MS;
    if (!(deadlineMs === Number.POSITIVE_INFINITY || (Number.isSafeInteger(deadlineMs) && deadlineMs >= 0))) {
      return Promise.reject(
        new InfrastructureError(
          "INVALID_ARGUMENT",
          `deadlineMs must be a non-negative integer or Infinity, got ${String(deadlineMs)}`,
          { retryable: false },
        ),
      );
    }
    this.#closing ??= this.#close(deadlineMs);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(deadlineMs: number): Promise<void> {
    this.#stopping.abort();
    const channel = this.#channel;
    const tag = this.#consumerTag;
    let answering = channel !== undefined && !this.#deadChannels.has(channel);
    if (channel !== undefined && tag !== undefined && answering) {
      // Stop taking jobs first; what RabbitMQ already handed over is finished (or released).
      answering = await bounded(
        channel.cancel(tag),
        startDeadline(Math.min(this.#host.defaultTimeoutMs, CLOSE_STEP_MS)),
        undefined,
        "stopping the consumer",
      ).then(
        () => true,
        () => false,
      );
    }
    if (this.#deliveries.size > 0) {
      const idle = new Promise<void>((resolve) => this.#idle.push(resolve));
      const timedOut = await Promise.race([
        idle.then(() => false),
        deadlineMs === Number.POSITIVE_INFINITY
          ? new Promise<boolean>(() => undefined)
          : pause(deadlineMs).then(() => true),
      ]);
      if (timedOut) {
        const reason = new InfrastructureError(
          "CLOSED",
          `the worker of ${this.queue} closed before the handler finished: the job was released and will be delivered again`,
          { retryable: false },
        );
        for (const delivery of this.#deliveries) {
          if (delivery.settled || delivery.lost) continue;
          delivery.released = true;
          delivery.controller.abort(reason);
          try {
            delivery.channel.nack(delivery.message, false, true);
          } catch {
            // The channel is gone: RabbitMQ releases the message itself.
          }
        }
      }
    }
    this.#channel = undefined;
    this.#consumerTag = undefined;
    clearInterval(this.#renewals);
    if (channel !== undefined && answering) {
      await bounded(
        channel.close(),
        startDeadline(Math.min(this.#host.defaultTimeoutMs, CLOSE_STEP_MS)),
        undefined,
        "closing the worker channel",
      ).catch(() => undefined);
    } else if (channel !== undefined) {
      // The broker did not answer: close without waiting (the connection's close ends it anyway).
      closeQuietly(channel);
    }
    this.#markClosed();
  }

  async #subscribeLoop(): Promise<void> {
    if (this.#subscribing) return;
    this.#subscribing = true;
    try {
      for (let attempt = 1; !this.#stopping.signal.aborted; attempt++) {
        try {
          await this.#subscribe();
          return;
        } catch (error) {
          if (this.#stopping.signal.aborted) return;
          const mapped = mapAmqpError(error, `the worker of ${this.queue} subscribing`);
          this.#host.reportError(
            new InfrastructureError(mapped.code, `${mapped.message} (retrying)`, { cause: mapped }),
          );
          await pause(reconnectDelayMs(attempt), this.#stopping.signal);
        }
      }
    } finally {
      this.#subscribing = false;
    }
  }

  async #subscribe(): Promise<void> {
    const host = this.#host;
    const signal = this.#stopping.signal;
    const deadline = startDeadline(host.defaultTimeoutMs);
    const what = `the worker of ${this.queue} subscribing`;
    await host.ensureMainQueue(this.queue, deadline, signal);
    const channel = await host.link.channel(deadline, signal, what);
    channel.on("close", () => this.#lost(channel));
    try {
      await bounded(channel.prefetch(this.#options.concurrency), deadline, signal, what);
      const { consumerTag } = await bounded(
        channel.consume(host.names.main(this.queue), (message) => this.#receive(channel, message), {
          noAck: false,
        }),
        deadline,
        signal,
        what,
      );
      if (this.#deadChannels.has(channel))
        throw new InfrastructureError("UNAVAILABLE", `${what}: the channel closed`);
      this.#channel = channel;
      this.#consumerTag = consumerTag;
    } catch (error) {
      closeQuietly(channel);
      throw error;
    }
  }

  #lost(channel: Channel): void {
    this.#deadChannels.add(channel);
    const reason = new InfrastructureError(
      "UNAVAILABLE",
      `the worker of ${this.queue} lost its RabbitMQ channel: the job's lease is gone and it will be delivered again`,
    );
    for (const delivery of this.#deliveries) {
      if (delivery.channel !== channel || delivery.settled) continue;
      delivery.lost = true;
      delivery.controller.abort(reason);
    }
    if (channel !== this.#channel) return;
    this.#channel = undefined;
    this.#consumerTag = undefined;
    if (this.#stopping.signal.aborted) return;
    this.#host.reportError(
      new InfrastructureError("UNAVAILABLE", `the worker of ${this.queue} lost its channel; reconnecting`),
    );
    // One timer for the worker: every leaseMs / 3, each handler running that long is checked.
    const everyMs = Math.max(100, Math.floor(this.#options.leaseMs / 3));
    this.#renewals = setInterval(() => {
      const due = performance.now() - everyMs;
      for (const delivery of this.#deliveries) {
        if (
          delivery.runningSince !== undefined &&
          delivery.runningSince <= due &&
          delivery.jobId !== undefined
        ) {
          void this.#renew(delivery, delivery.jobId);
        }
      }
    }, everyMs);
    void this.#subscribeLoop();
  }

  #receive(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // RabbitMQ cancelled the consumer (the queue was deleted): start over, which declares it.
      closeQuietly(channel);
      return;
    }
    const delivery: Delivery = {
      channel,
      message,
      controller: new AbortController(),
      lost: this.#deadChannels.has(channel),
      released: false,
      cancelled: false,
      settled: false,
      renewing: false,
      runningSince: undefined,
      jobId: undefined,
    };
    this.#deliveries.add(delivery);
    this.#process(delivery).then(
      () => this.#settle(delivery),
      (error: unknown) => {
        this.#host.reportError(
          isInfrastructureError(error)
            ? error
            : new InfrastructureError("INTERNAL", "a delivery failed", { cause: error }),
        );
        this.#settle(delivery);
      },
    );
  }

  #settle(delivery: Delivery): void {
    delivery.settled = true;
    this.#deliveries.delete(delivery);
    if (this.#deliveries.size === 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const wake of waiting) wake();
    }
  }

  async #process(delivery: Delivery): Promise<void> {
    const host = this.#host;
    const { message } = delivery;
    const job = parseJobMessage(message, this.queue);
    if (job === undefined) {
      host.reportError(
        new InfrastructureError(
          "INTERNAL",
          `a message on ${host.names.main(this.queue)} carries no job (its type property is no job's): acknowledged and dropped`,
        ),
      );
      this.#ack(delivery);
      return;
    }
    const what = `job ${job.id}`;
    if (job.dueAt > Date.now()) {
      // Not due yet: back to the wait queue for what is left.
      await this.#finish(delivery, (deadline) =>
        host.sendJob(job, message.content, deadline, undefined, what),
      );
      return;
    }
    const redeliveries = message.properties.headers?.["x-delivery-count"];
    const attempt = job.attempt + (typeof redeliveries === "number" ? redeliveries : 0);
    const checking = `checking ${what} for cancellation`;
    // Answered from memory (no cancellation, or a standing "no cancels" answer): no state call.
    let known: ReturnType<RabbitMqJobQueue["hasEnded"]>;
    try {
      known = host.hasEnded(job, startDeadline(host.defaultTimeoutMs));
    } catch (error) {
      known = Promise.reject(error);
    }
    const check =
      typeof known === "number" || known === true
        ? known
        : await this.#persist(delivery, checking, (deadline) => host.hasEnded(job, deadline), known);
    if (check === ABANDONED) return;
    if (check === true) {
      this.#ack(delivery);
      return;
    }
    const startBy = check;
    if (job.keyHash !== undefined) {
      const keyHash = job.keyHash;
      const holder = await this.#persist(delivery, `claiming the idempotency key of ${what}`, (deadline) =>
        host.claim(this.queue, keyHash, job.id, deadline, undefined, false),
      );
      if (holder === ABANDONED) return;
      if (holder !== job.id) {
        // Another job holds the key: this message is a duplicate enqueue's, never to run.
        this.#ack(delivery);
        host.ended(job.id, "duplicate");
        return;
      }
    }
    if (attempt > job.maxAttempts) {
      // The last attempt lost its lease (worker killed, connection lost, released at close).
      const error = {
        code: "UNAVAILABLE",
        message: `attempt ${attempt - 1} of ${job.maxAttempts} lost its lease (its worker died, lost its connection or was closed)`,
      };
      await this.#finish(delivery, (deadline) =>
        host.deadLetter(job, message.content, attempt - 1, error, deadline),
      );
      return;
    }
    // The "not cancelled" answer stands for a while only (see `ANSWER_STANDS_MS`): past it, the
    // handler may not start before another answer. Nothing runs between this and the handler's
    // start (`#run` calls it synchronously). Once only: a state store slower than the answer
    // stands would otherwise hold the job forever; the handler then starts on the fresh answer,
    // and a cancel meanwhile reaches it as a running job (its signal fires at the next check).
    if (performance.now() >= startBy) {
      const again = await this.#persist(delivery, checking, (deadline) => host.hasEnded(job, deadline));
      if (again === ABANDONED) return;
      if (again === true) {
        this.#ack(delivery);
        return;
      }
    }
    const failure = await this.#run(delivery, job, attempt);
    if (delivery.lost || delivery.released) return;
    if (delivery.cancelled) {
      this.#ack(delivery);
      return;
    }
    if (failure === undefined) {
      this.#ack(delivery);
      host.ended(job.id, "done");
      return;
    }
    if (isFinalJobError(failure.error) || attempt >= job.maxAttempts) {
      const error = summarizeJobError(failure.error);
      await this.#finish(delivery, (deadline) =>
        host.deadLetter(job, message.content, attempt, error, deadline),
      );
      return;
    }
    // Republish the next attempt, then acknowledge this one: should the process die between the
    // two, the job runs twice (at least once allows it), never zero times.
    const next: JobMessage = {
      ...job,
      attempt: attempt + 1,
      dueAt: Date.now() + retryDelayMs(attempt, this.#options.backoff),
    };
    await this.#finish(delivery, (deadline) =>
      host.sendJob(next, message.content, deadline, undefined, what),
    );
  }

  async #run(delivery: Delivery, job: JobMessage, attempt: number): Promise<{ error: unknown } | undefined> {
    this.#handlers += 1;
    delivery.runningSince = performance.now();
    delivery.jobId = job.id;
    try {
      const payload = decodeJobPayload(delivery.message.content.toString("utf8"));
      await this.#handler({
        id: job.id,
        queue: this.queue,
        payload,
        attempt,
        maxAttempts: job.maxAttempts,
        signal: delivery.controller.signal,
      });
      return undefined;
    } catch (error) {
      return { error };
    } finally {
      delivery.runningSince = undefined;
      this.#handlers -= 1;
    }
  }

  /** A renewal: RabbitMQ holds the lease while the channel lives; what can end it early is a cancel. */
  async #renew(delivery: Delivery, id: string): Promise<void> {
    if (delivery.renewing || delivery.cancelled || delivery.lost || delivery.released) return;
    // Without cancellation nothing can end the lease early.
    if (!this.#host.cancellation) return;
    delivery.renewing = true;
    try {
      const deadline = startDeadline(Math.min(this.#host.defaultTimeoutMs, this.#options.leaseMs));
      if (await this.#host.hasEndMark(id, deadline)) {
        delivery.cancelled = true;
        delivery.controller.abort(
          new InfrastructureError("CANCELLED", `job ${id} was cancelled`, { retryable: false }),
        );
      }
    } catch (error) {
      // The lease is still held (the channel lives); only the cancel check failed.
      this.#host.reportError(
        isInfrastructureError(error)
          ? error
          : new InfrastructureError("INTERNAL", "cancel check failed", { cause: error }),
      );
    } finally {
      delivery.renewing = false;
    }
  }

  /**
   * Runs a check the job cannot go on without (state store, key claim), trying again with back-off
   * while it fails retryably, holding the message meanwhile (no attempt is used up). Gives up when
   * the message is lost or released, or the error is not retryable (then the message is released
   * after a pause, and comes back as a further attempt).
   */
  async #persist<T>(
    delivery: Delivery,
    what: string,
    check: (deadline: Deadline) => T | Promise<T>,
    first?: Promise<T>,
  ): Promise<T | typeof ABANDONED> {
    for (let attempt = 1; ; attempt++) {
      if (delivery.lost || delivery.released) return ABANDONED;
      try {
        // `first`: the first try, already started by the caller.
        return await (attempt === 1 && first !== undefined
          ? first
          : check(startDeadline(this.#host.defaultTimeoutMs)));
      } catch (error) {
        const mapped = isInfrastructureError(error) ? error : mapAmqpError(error, what);
        this.#host.reportError(
          new InfrastructureError(mapped.code, `${what} failed: ${mapped.message}`, { cause: mapped }),
        );
        if (!mapped.retryable) {
          await this.#releaseLater(delivery);
          return ABANDONED;
        }
        await pause(reconnectDelayMs(attempt), delivery.controller.signal);
      }
    }
  }

  /** Publishes what follows this delivery (a retry, a dead letter, a wait), then acknowledges it. */
  async #finish(delivery: Delivery, step: (deadline: Deadline) => Promise<void>): Promise<void> {
    if (delivery.lost || delivery.released) return;
    try {
      await step(startDeadline(this.#host.defaultTimeoutMs));
    } catch (error) {
      this.#host.reportError(
        isInfrastructureError(error)
          ? error
          : new InfrastructureError("INTERNAL", "a job step failed", { cause: error }),
      );
      await this.#releaseLater(delivery);
      return;
    }
    this.#ack(delivery);
  }

  /** Gives the message back after a pause (not at once: the failure would only repeat). */
  async #releaseLater(delivery: Delivery): Promise<void> {
    await pause(1_000, this.#stopping.signal);
    if (delivery.lost || delivery.released) return;
    delivery.released = true;
    try {
      delivery.channel.nack(delivery.message, false, true);
    } catch {
      // The channel is gone: RabbitMQ releases the message itself.
    }
  }

  #ack(delivery: Delivery): void {
    if (delivery.lost || delivery.released) return;
    try {
      delivery.channel.ack(delivery.message);
    } catch {
      // The channel closed under us: the message comes back (at least once).
    }
  }
}
