import { closedError, InfrastructureError, outcomeUnknownError } from "@proj/ports";
import { type Channel, type ChannelModel, type ConfirmChannel, connect, type Options } from "amqplib";
import { bounded, type Deadline, pause, remainingMs, timeoutError } from "./deadline.js";
import { mapAmqpError, replyCodeOf } from "./map-amqp-error.js";

export interface LinkOptions {
  url: string;
  heartbeatSeconds: number;
  /** Shown in the RabbitMQ management UI and `rabbitmqctl list_connections`. */
  connectionName: string;
  /**
   * A connection on which a reply (a confirm, a declare-ok) is overdue this long is destroyed, so
   * the next call opens a new one instead of waiting on a dead path for the heartbeat to notice.
   */
  silenceMs: number;
  /** Told about connection-level errors (the broker closed the connection, a missed heartbeat). */
  onError(error: InfrastructureError): void;
}

/** What a confirmed publish sends. */
export interface Outgoing {
  queue: string;
  content: Buffer;
  /** Dead-letter stream entries: what kind of entry (a record, a probe, a marker). */
  headers?: Record<string, unknown>;
  /** Job messages: the job (see `jobMessageType`). */
  type?: string;
  /** Per-message TTL, as AMQP's `expiration` (none on job messages). */
  persistent?: boolean;
}

/** Raised when a confirmed publish came back unrouted: the queue does not exist (any more). */
export class UnroutedError extends InfrastructureError {
  constructor(queue: string) {
    super("NOT_FOUND", `RabbitMQ has no queue ${queue}: the message was returned unrouted`);
  }
}

/**
 * Raised when RabbitMQ nacked a publish: it refused responsibility for the message, which was not
 * enqueued (a quorum queue without a leader yet, an overflow that rejects publishes).
 */
export class NackedError extends InfrastructureError {
  constructor(what: string) {
    super("UNAVAILABLE", `${what} failed: RabbitMQ nacked the message (it was not enqueued)`);
  }
}

/** A nacked publish is sent again after this pause, doubling up to `NACK_RETRY_MAX_MS`, within its deadline. */
const NACK_RETRY_INITIAL_MS = 20;
const NACK_RETRY_MAX_MS = 500;

interface PendingPublish {
  reject(error: InfrastructureError): void;
  /** When its deadline passes (`performance.now()`; `Infinity` for none). */
  readonly dueAt: number;
  /** Its deadline passed without a confirm. */
  expire(): void;
}

/** One confirm channel and what is in flight on it. */
interface Publisher {
  channel: ConfirmChannel;
  /** Publish tags (`messageId`) that RabbitMQ returned as unroutable, until their confirm. */
  returned: Set<string>;
  inFlight: Set<PendingPublish>;
  /** Why RabbitMQ closed the channel (its close text), once it did. */
  closeReason: string;
  /**
   * One timer for the deadlines of every publish in flight (not one per publish), due at the
   * earliest of them when armed; unref'd, so it never holds the process open by itself.
   */
  deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer is due (`performance.now()`), while it is armed. */
  timerDueAt: number;
}

let publishTags = 0;

/**
 * One AMQP connection, opened on demand and again after it is lost, with one confirm channel for
 * publishing. Calls never wait on a connection beyond their own deadline: while RabbitMQ refuses
 * connections a call fails at once with `UNAVAILABLE`; while it does not answer, with `TIMEOUT`.
 * Lost connections are not re-opened in the background: the next call (or a worker's reconnect
 * loop) opens a new one.
 */
export class Link {
  readonly #options: LinkOptions;
  #model: ChannelModel | undefined;
  #opening: Promise<ChannelModel> | undefined;
  #publisher: Promise<Publisher> | undefined;
  /** The confirm channel once open (the hot path takes it without awaiting `#publisher`). */
  #openPublisher: Publisher | undefined;
  #closed = false;
  readonly #lostListeners = new Set<() => void>();

  constructor(options: LinkOptions) {
    this.#options = options;
  }

  /** Called each time the current connection is lost (not when `close()` ends it). */
  onLost(listener: () => void): () => void {
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  /** The open connection, opening one within the deadline if there is none. */
  model(deadline: Deadline, signal: AbortSignal | undefined): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(closedError("the RabbitMQ connection"));
    if (this.#model !== undefined) return Promise.resolve(this.#model);
    if (this.#opening === undefined) {
      const opening = this.#open(deadline);
      this.#opening = opening;
      opening.then(
        () => {
          if (this.#opening === opening) this.#opening = undefined;
        },
        () => {
          if (this.#opening === opening) this.#opening = undefined;
        },
      );
    }
    return bounded(this.#opening, deadline, signal, "connecting to RabbitMQ");
  }

  async #open(deadline: Deadline): Promise<ChannelModel> {
    const url = withHeartbeat(this.#options.url, this.#options.heartbeatSeconds);
    // amqplib's `timeout` covers the TCP connect and the AMQP handshake; a connection attempt is
    // shared by every call waiting for it, so it gets the whole default budget, not one call's.
    const timeout = Math.min(Math.max(remainingMs(deadline), 1_000), 30_000);
    let model: ChannelModel;
    try {
      model = await connect(url, {
        timeout: Number.isFinite(timeout) ? timeout : 30_000,
        noDelay: true,
        clientProperties: { connection_name: this.#options.connectionName },
      });
    } catch (error) {
      throw mapAmqpError(error, "connecting to RabbitMQ");
    }
    if (this.#closed) {
      await model.close().catch(() => undefined);
      throw closedError("the RabbitMQ connection");
    }
    coalesceWrites(model);
    // Without an error listener, a connection error would be an unhandled 'error' event.
    model.on("error", (error: Error) => {
      this.#options.onError(
        new InfrastructureError(
          "UNAVAILABLE",
          `the connection to RabbitMQ (${this.#options.connectionName}) failed: ${error.message}`,
          { cause: error },
        ),
      );
    });
    model.on("close", () => {
      if (this.#model !== model) return;
      this.#model = undefined;
      this.#publisher = undefined;
      this.#openPublisher = undefined;
      if (this.#closed) return;
      for (const listener of [...this.#lostListeners]) listener();
    });
    this.#model = model;
    return model;
  }

  /** A fresh channel on the connection; the caller closes it. Errors on it never go unhandled. */
  async channel(deadline: Deadline, signal: AbortSignal | undefined, what: string): Promise<Channel> {
    const model = await this.model(deadline, signal);
    const channel = await this.#awaitReply(
      model,
      model.createChannel().catch((error: unknown) => {
        throw mapAmqpError(error, what);
      }),
      deadline,
      signal,
      what,
      (late) => void late.close().catch(() => undefined),
    );
    channel.on("error", () => undefined);
    return channel;
  }

  /**
   * Declares a queue on a channel of its own (a refused declaration closes its channel).
   * `406 PRECONDITION_FAILED` (the queue exists with other arguments) rejects with the mapped
   * error, whose `cause` keeps RabbitMQ's text.
   */
  async declare(
    name: string,
    options: Options.AssertQueue,
    deadline: Deadline,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const what = `declaring RabbitMQ queue ${name}`;
    const channel = await this.channel(deadline, signal, what);
    try {
      await this.#awaitReply(
        this.#model,
        channel.assertQueue(name, options).catch((error: unknown) => {
          throw mapAmqpError(error, what);
        }),
        deadline,
        signal,
        what,
      );
    } finally {
      closeQuietly(channel);
    }
  }

  /** Whether a queue exists (a passive declaration, on a channel of its own). */
  async exists(name: string, deadline: Deadline, signal: AbortSignal | undefined): Promise<boolean> {
    const what = `checking RabbitMQ queue ${name}`;
    const channel = await this.channel(deadline, signal, what);
    try {
      await this.#awaitReply(this.#model, channel.checkQueue(name), deadline, signal, what);
      return true;
    } catch (error) {
      if (replyCodeOf(error) === 404) return false;
      throw mapAmqpError(error, what);
    } finally {
      closeQuietly(channel);
    }
  }

  /** Deletes a queue (missing is fine). */
  async delete(name: string, deadline: Deadline): Promise<void> {
    const what = `deleting RabbitMQ queue ${name}`;
    const channel = await this.channel(deadline, undefined, what);
    try {
      await bounded(channel.deleteQueue(name), deadline, undefined, what);
    } catch (error) {
      throw mapAmqpError(error, what);
    } finally {
      closeQuietly(channel);
    }
  }

  /**
   * Publishes persistently to `message.queue` through the default exchange and waits for
   * RabbitMQ's confirm. `mandatory` makes a missing queue an `UnroutedError` instead of a silent
   * drop. Past the write, a lost connection or a deadline is an outcome-unknown error.
   */
  publish(
    message: Outgoing,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const publisher = this.#openPublisher;
    const sent =
      publisher !== undefined
        ? this.#publishOn(publisher, message, deadline, signal, what)
        : Promise.resolve(this.#publisherWithin(deadline, signal, what)).then((opened) =>
            this.#publishOn(opened, message, deadline, signal, what),
          );
    return sent.then(undefined, (error: unknown) => this.#afterNack(error, message, deadline, signal, what));
  }

  /**
   * A nacked message was not enqueued, so sending it again cannot make a second job: it is sent
   * again after a pause (doubling from 20 ms to 500 ms) while the deadline allows, and the last
   * nack is the call's error once it does not.
   */
  async #afterNack(
    error: unknown,
    message: Outgoing,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    let last = error;
    for (let delay = NACK_RETRY_INITIAL_MS; ; delay = Math.min(delay * 2, NACK_RETRY_MAX_MS)) {
      if (!(last instanceof NackedError) || remainingMs(deadline) <= delay) throw last;
      await bounded(pause(delay), deadline, signal, what);
      try {
        const publisher = this.#openPublisher ?? (await this.#publisherWithin(deadline, signal, what));
        await this.#publishOn(publisher, message, deadline, signal, what);
        return;
      } catch (again) {
        last = again;
      }
    }
  }

  #publishOn(
    publisher: Publisher,
    message: Outgoing,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    const publish = new InFlightPublish(
      publisher,
      this.#model,
      deadline,
      signal,
      what,
      message.queue,
      this.#overdueConfirm,
    );
    publisher.inFlight.add(publish);
    if (publish.dueAt < publisher.timerDueAt || publisher.deadlineTimer === undefined) {
      armDeadlineTimer(publisher, publish.dueAt);
    }
    try {
      publisher.channel.publish(
        "",
        message.queue,
        message.content,
        {
          persistent: message.persistent ?? true,
          mandatory: true,
          messageId: publish.tag,
          contentType: "application/json",
          headers: message.headers,
          type: message.type,
        },
        (error: unknown) => publish.confirmed(error),
      );
    } catch (error) {
      // The channel was already closed: nothing was written.
      publish.settle(mapAmqpError(error, what));
    }
    return publish.promise;
  }

  /**
   * A confirm overdue by the whole default deadline went missing (a dead path, or lost frames):
   * confirms are matched to publishes by count, so this channel's later ones cannot be trusted,
   * and the connection is replaced. A shorter caller deadline only means the confirm is late: the
   * channel stays.
   */
  readonly #overdueConfirm = (publisher: Publisher, model: ChannelModel | undefined, deadline: Deadline) => {
    if (deadline.timeoutMs < this.#options.silenceMs) return;
    this.#dropPublisher(publisher);
    this.#overdue(model, deadline);
  };

  #publisherWithin(
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<Publisher> | Publisher {
    if (this.#openPublisher !== undefined) return this.#openPublisher;
    if (this.#publisher === undefined) {
      const opening = this.#createPublisher(deadline, signal);
      this.#publisher = opening;
      opening.then(
        (publisher) => {
          if (this.#publisher === opening) this.#openPublisher = publisher;
        },
        () => {
          if (this.#publisher === opening) this.#publisher = undefined;
        },
      );
    }
    return bounded(this.#publisher, deadline, signal, what);
  }

  async #createPublisher(deadline: Deadline, signal: AbortSignal | undefined): Promise<Publisher> {
    const model = await this.model(deadline, signal);
    let channel: ConfirmChannel;
    try {
      channel = await model.createConfirmChannel();
    } catch (error) {
      throw mapAmqpError(error, "opening a RabbitMQ confirm channel");
    }
    const publisher: Publisher = {
      channel,
      returned: new Set(),
      inFlight: new Set(),
      closeReason: "",
      deadlineTimer: undefined,
      timerDueAt: Number.POSITIVE_INFINITY,
    };
    channel.on("error", (error: Error) => {
      publisher.closeReason = ` (${error.message})`;
    });
    channel.on("return", (message) => {
      const tag = message.properties.messageId;
      if (typeof tag === "string") publisher.returned.add(tag);
    });
    channel.on("close", () => {
      if (this.#model === model && this.#publisher !== undefined) {
        // Only this channel died (the connection lives): the next publish opens another.
        if (this.#openPublisher === publisher) this.#openPublisher = undefined;
        void this.#publisher.then((current) => {
          if (current === publisher) this.#publisher = undefined;
        });
      }
      const lost = outcomeUnknownError(
        "UNAVAILABLE",
        `the RabbitMQ channel closed before the confirm${publisher.closeReason}`,
      );
      for (const pending of [...publisher.inFlight]) pending.reject(lost);
    });
    return publisher;
  }

  /** `bounded`, and a reply overdue by `silenceMs` condemns the connection. */
  async #awaitReply<T>(
    model: ChannelModel | undefined,
    reply: Promise<T>,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    what: string,
    onLate?: (value: T) => void,
  ): Promise<T> {
    try {
      return await bounded(reply, deadline, signal, what, onLate === undefined ? {} : { onLate });
    } catch (error) {
      if (error instanceof InfrastructureError && error.code === "TIMEOUT") this.#overdue(model, deadline);
      throw error;
    }
  }

  /** Stops using a confirm channel (and closes it) once one of its confirms went missing. */
  #dropPublisher(publisher: Publisher): void {
    if (this.#openPublisher !== publisher) return;
    this.#openPublisher = undefined;
    this.#publisher = undefined;
    const lost = outcomeUnknownError(
      "UNAVAILABLE",
      "the RabbitMQ confirm channel was abandoned after a missing confirm",
    );
    for (const pending of [...publisher.inFlight]) pending.reject(lost);
    publisher.channel.close().catch(() => undefined);
  }

  /**
   * Destroys `model` when a reply on it did not come within a deadline of at least `silenceMs`:
   * the path is dead (or frames were lost), and the heartbeat may take far longer to notice.
   */
  #overdue(model: ChannelModel | undefined, deadline: Deadline): void {
    if (model === undefined || model !== this.#model) return;
    if (deadline.timeoutMs < this.#options.silenceMs) return;
    // The close that follows resets the link (see #open).
    destroyConnection(model, "no reply from RabbitMQ within the deadline: connection abandoned");
  }

  /** Closes the connection (idempotent); calls after it are `CLOSED`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const model = this.#model ?? (await this.#opening?.catch(() => undefined));
    this.#model = undefined;
    this.#publisher = undefined;
    this.#openPublisher = undefined;
    if (model === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        // The broker did not answer connection.close: drop the socket.
        destroyConnection(model, "RabbitMQ did not answer connection.close");
        resolve();
      }, timeoutMs);
    });
    await Promise.race([model.close().catch(() => undefined), forced]);
    clearTimeout(timer);
  }
}

/**
 * One publish waiting for its confirm: settled by the confirm, the channel's loss, its deadline (the
 * publisher's shared timer calls `expire`) or its caller's signal. A class, not closures: one object
 * per publish on the hot path.
 */
class InFlightPublish implements PendingPublish {
  readonly dueAt: number;
  readonly tag = `p${++publishTags}`;
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (error: InfrastructureError) => void;
  readonly #onAbort: (() => void) | undefined;

  constructor(
    readonly publisher: Publisher,
    readonly model: ChannelModel | undefined,
    readonly deadline: Deadline,
    readonly signal: AbortSignal | undefined,
    readonly what: string,
    readonly queue: string,
    readonly overdue: (publisher: Publisher, model: ChannelModel | undefined, deadline: Deadline) => void,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.dueAt = performance.now() + remainingMs(deadline);
    if (signal !== undefined) {
      this.#onAbort = () =>
        this.settle(outcomeUnknownError("CANCELLED", `${what} was cancelled before RabbitMQ confirmed it`));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  settle(error?: InfrastructureError): void {
    if (!this.publisher.inFlight.delete(this)) return;
    if (this.#onAbort !== undefined) this.signal?.removeEventListener("abort", this.#onAbort);
    if (error === undefined) this.#resolve();
    else this.#reject(error);
  }

  reject(error: InfrastructureError): void {
    this.settle(error);
  }

  expire(): void {
    this.settle(
      outcomeUnknownError(
        "TIMEOUT",
        `${timeoutError(this.deadline, this.what).message}: RabbitMQ did not confirm`,
      ),
    );
    this.overdue(this.publisher, this.model, this.deadline);
  }

  /** amqplib's confirm callback: `null` for an ack, an error for a nack or a closed channel. */
  confirmed(error: unknown): void {
    if (error === null || error === undefined) {
      if (this.publisher.returned.delete(this.tag)) this.settle(new UnroutedError(this.queue));
      else this.settle();
    } else if (error instanceof Error && error.message === "message nacked") {
      // RabbitMQ refused responsibility for the message: it was not enqueued.
      this.settle(new NackedError(this.what));
    } else {
      this.settle(
        outcomeUnknownError(
          "UNAVAILABLE",
          `${this.what}: the channel to RabbitMQ closed before the confirm${this.publisher.closeReason}`,
          { cause: error },
        ),
      );
    }
  }
}

/**
 * Arms `publisher`'s deadline timer for `dueAt` (replacing a later one). When it fires, every
 * publish due by then expires (Node may fire a timer up to a millisecond early: what was due at
 * the timer's own time expires with it), and it is armed again for the earliest one left.
 */
function armDeadlineTimer(publisher: Publisher, dueAt: number): void {
  if (publisher.deadlineTimer !== undefined) clearTimeout(publisher.deadlineTimer);
  publisher.deadlineTimer = undefined;
  publisher.timerDueAt = Number.POSITIVE_INFINITY;
  if (dueAt === Number.POSITIVE_INFINITY) return;
  publisher.timerDueAt = dueAt;
  publisher.deadlineTimer = setTimeout(
    () => {
      const firedFor = publisher.timerDueAt;
      publisher.deadlineTimer = undefined;
      publisher.timerDueAt = Number.POSITIVE_INFINITY;
      const due = Math.max(firedFor, performance.now());
      let next = Number.POSITIVE_INFINITY;
      for (const pending of [...publisher.inFlight]) {
        if (pending.dueAt <= due) pending.expire();
        else if (pending.dueAt < next) next = pending.dueAt;
      }
      if (next !== Number.POSITIVE_INFINITY && publisher.deadlineTimer === undefined) {
        armDeadlineTimer(publisher, next);
      }
    },
    Math.max(0, dueAt - performance.now()),
  );
  publisher.deadlineTimer.unref();
}

/** The socket under an amqplib connection, as far as `coalesceWrites` needs it. */
interface CorkableStream {
  write: (...args: never[]) => boolean;
  cork(): void;
  uncork(): void;
}

/**
 * Makes the frames amqplib writes within one turn of the event loop leave in at most two system
 * calls. amqplib writes each frame (a publish, an ack) to the socket by itself, one `write` each.
 * Here a turn's first frame is written at once (a lone publish or ack pays nothing more), and the
 * socket is corked at its second: the rest of the turn's frames go out in one `writev` once the
 * turn's code and microtasks have run (`process.nextTick`), so none waits past the end of its
 * turn. Back-pressure is unchanged: `write` still answers `false` past the socket's high-water
 * mark, and `drain` follows the flush.
 */
export function coalesceWrites(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: CorkableStream }).stream;
  if (stream === undefined || typeof stream.cork !== "function" || typeof stream.uncork !== "function")
    return;
  const write = stream.write;
  let inTurn = false;
  let corked = false;
  const endTurn = () => {
    inTurn = false;
    if (corked) {
      corked = false;
      stream.uncork();
    }
  };
  stream.write = function (this: CorkableStream, ...args: never[]): boolean {
    if (!inTurn) {
      inTurn = true;
      process.nextTick(endTurn);
    } else if (!corked) {
      corked = true;
      stream.cork();
    }
    return write.apply(this, args);
  };
}

/**
 * Destroys a connection's socket with an error: amqplib watches the socket's `error` and `end`
 * only, so a plain `destroy()` would leave it believing the connection open.
 */
function destroyConnection(model: ChannelModel, why: string): void {
  (model.connection as unknown as { stream?: { destroy(error?: Error): void } }).stream?.destroy(
    new Error(why),
  );
}

export function closeQuietly(channel: Channel): void {
  channel.close().catch(() => undefined);
}

function withHeartbeat(url: string, heartbeatSeconds: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes("?") ? "&" : "?"}heartbeat=${heartbeatSeconds}`;
}
