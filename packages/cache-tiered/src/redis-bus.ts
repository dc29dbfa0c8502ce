import { randomUUID } from "node:crypto";
import { type Cache, closedError, InfrastructureError, validateCacheKey } from "@proj/ports";
import { Redis } from "ioredis";
import type {
  AttachedInvalidation,
  Invalidation,
  InvalidationBus,
  InvalidationListener,
  PublishOptions,
} from "./bus.js";
import { CommandConnection, connectionOptions, quit, type RedisTarget } from "./redis-connection.js";
import { checkPositive, checkTimeout, mapRedisError } from "./redis-errors.js";

/** Options of `createRedisInvalidationBus`. */
export type RedisInvalidationBusOptions = RedisTarget & {
  /**
   * The bus's name: every tiered cache over one L2 namespace uses the same channel (the namespace is
   * the natural choice), and caches over different namespaces use different ones. Follows the key
   * rule. The Redis channel is `proj-cache-invalidation:<channel>`.
   */
  channel: string;
  /** How often the subscriber connection confirms it is alive (a `PING`). Default 1000. */
  heartbeatMs?: number;
  /**
   * A subscriber whose `PING` stays unanswered this long is declared down (`onDown`) and its
   * connection replaced; the same bound replaces a silent publisher connection. Default 2000.
   */
  silenceMs?: number;
  /** Default deadline of `publish`. Default 2000; `Infinity` for none. */
  publishTimeoutMs?: number;
  /** Told about connection errors and malformed messages, which happen outside any call. */
  onError?: (error: InfrastructureError) => void;
  /**
   * Hand invalidations directly to the buses of this process on the same server and channel.
   * Default true; false sends every invalidation through Redis (benchmarks of the delivery delay).
   */
  localDelivery?: boolean;
};

const WHAT = "Redis invalidation bus";

/** Buses of this process by server and channel, for in-process delivery; origins of live buses. */
const LOCAL_BUSES = new Map<string, Map<string, RedisInvalidationBus>>();

interface Wire {
  /** Origin: the publishing bus. */
  o: string;
  /** Sent at, on the publisher's wall clock (ms, fractional). */
  s: number;
  k: Invalidation["kind"];
  v?: string | string[];
}

/**
 * An `InvalidationBus` over Redis pub/sub: one subscriber connection (its own, since a subscribed
 * connection takes no other command) and one publishing connection (yours when you pass `client`).
 *
 * - The subscriber sends a `PING` every `heartbeatMs`; Redis answers it after every message it
 *   published to the connection before, so an answer confirms delivery up to the moment the `PING`
 *   was sent (`onConfirmed`). An unanswered `PING` (past `silenceMs`) or a closed connection is
 *   `onDown`; the connection is replaced with back-off, and `onSubscribed` follows the new
 *   subscription.
 * - Buses of one process on one channel of one server (same host, port and database in their
 *   options) hand invalidations to each other directly, before `publish` resolves, and ignore the
 *   copies Redis brings back.
 */
export class RedisInvalidationBus implements InvalidationBus {
  /** The Redis channel carrying the invalidations. */
  readonly channel: string;
  readonly #origin = randomUUID();
  /** The server and channel: buses of this process with the same one deliver to each other directly. */
  readonly #localKey: string;
  readonly #publisher: CommandConnection;
  readonly #subscriber: Redis;
  readonly #heartbeatMs: number;
  readonly #silenceMs: number;
  readonly #publishTimeoutMs: number;
  readonly #onError: ((error: InfrastructureError) => void) | undefined;
  #listener: InvalidationListener | undefined;
  #subscribed = false;
  #pingSentAt: number | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RedisInvalidationBusOptions) {
    validateCacheKey(options.channel, "channel");
    this.channel = `proj-cache-invalidation:${options.channel}`;
    this.#heartbeatMs = checkPositive(options.heartbeatMs ?? 1_000, "heartbeatMs");
    this.#silenceMs = checkPositive(options.silenceMs ?? 2_000, "silenceMs");
    this.#publishTimeoutMs = checkTimeout(options.publishTimeoutMs ?? 2_000, "publishTimeoutMs");
    this.#onError = options.onError;
    const name = `proj-bus:${options.channel}`;
    this.#publisher = new CommandConnection(options, `${name}:pub`, this.#silenceMs);
    const subscriberOptions = { ...connectionOptions(`${name}:sub`, this.#silenceMs), lazyConnect: true };
    const { host, port, db } = this.#publisher.client.options;
    this.#localKey =
      options.localDelivery === false
        ? `${this.#origin}|${this.channel}`
        : `${host}:${port}/${db ?? 0}|${this.channel}`;
    this.#subscriber =
      options.client !== undefined
        ? options.client.duplicate(subscriberOptions)
        : new Redis(options.url ?? "redis://127.0.0.1:6379", subscriberOptions);
  }

  listen(listener: InvalidationListener): void {
    if (this.#closing !== undefined) throw closedError(WHAT);
    if (this.#listener !== undefined) {
      throw new InfrastructureError("INVALID_ARGUMENT", "this invalidation bus already has a listener", {
        retryable: false,
      });
    }
    this.#listener = listener;
    let siblings = LOCAL_BUSES.get(this.#localKey);
    if (siblings === undefined) {
      siblings = new Map();
      LOCAL_BUSES.set(this.#localKey, siblings);
    }
    siblings.set(this.#origin, this);

    const subscriber = this.#subscriber;
    subscriber.on("error", (error: unknown) => this.#onError?.(mapRedisError(error, `${WHAT} (subscriber)`)));
    subscriber.on("ready", () => this.#subscribe());
    subscriber.on("close", () => this.#lost("the subscriber connection closed"));
    subscriber.on("message", (channel: string, text: string) => {
      if (channel === this.channel) this.#receive(text);
    });
    subscriber.connect().catch(() => undefined);
    this.#heartbeat = setInterval(() => this.#beat(), this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  async publish(invalidation: Invalidation, options: PublishOptions = {}): Promise<void> {
    if (this.#closing !== undefined) throw closedError(WHAT);
    const timeoutMs =
      options.timeoutMs === undefined ? this.#publishTimeoutMs : checkTimeout(options.timeoutMs, "timeoutMs");
    const sentAt = performance.timeOrigin + performance.now();
    this.#deliverToSiblings(invalidation, sentAt);
    const text = this.#encode(invalidation, sentAt);
    await this.#publisher.run(`publish on ${this.channel}`, timeoutMs, options.signal, () =>
      this.#publisher.client.publish(this.channel, text),
    );
  }

  /**
   * The message for an L2 that publishes in its own write: one whose ioredis `client` talks to the
   * server this bus subscribes on (same host and port; pub/sub ignores the database).
   */
  attach(invalidation: Invalidation, l2: Cache<unknown>): AttachedInvalidation | undefined {
    if (this.#closing !== undefined || !this.#sameServer(l2)) return undefined;
    const sentAt = performance.timeOrigin + performance.now();
    return {
      channel: this.channel,
      message: this.#encode(invalidation, sentAt),
      sent: () => this.#deliverToSiblings(invalidation, sentAt),
    };
  }

  #sameServer(l2: Cache<unknown>): boolean {
    // Structural: the L2's ioredis may be another installed copy.
    const options = (l2 as { client?: { options?: { host?: unknown; port?: unknown } } }).client?.options;
    const mine = this.#subscriber.options;
    return options !== undefined && options.host === mine.host && options.port === mine.port;
  }

  #deliverToSiblings(invalidation: Invalidation, sentAt: number): void {
    for (const sibling of LOCAL_BUSES.get(this.#localKey)?.values() ?? []) {
      if (sibling !== this) sibling.#deliver(invalidation, sentAt);
    }
  }

  #encode(invalidation: Invalidation, sentAt: number): string {
    const wire: Wire = { o: this.#origin, s: sentAt, k: invalidation.kind };
    if (invalidation.kind === "keys") wire.v = [...invalidation.keys];
    else if (invalidation.kind === "prefix") wire.v = invalidation.prefix;
    else if (invalidation.kind === "tag") wire.v = invalidation.tag;
    return JSON.stringify(wire);
  }

  /** Stops delivery, quits the subscriber and (unless it is yours) the publishing connection. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#listener = undefined;
      if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
      LOCAL_BUSES.get(this.#localKey)?.delete(this.#origin);
      if (LOCAL_BUSES.get(this.#localKey)?.size === 0) LOCAL_BUSES.delete(this.#localKey);
      this.#subscriber.removeAllListeners("close");
      this.#subscriber.on("error", () => undefined);
      this.#closing = Promise.all([quit(this.#subscriber), this.#publisher.close()]).then(() => undefined);
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #subscribe(): void {
    const at = performance.now();
    this.#subscriber.subscribe(this.channel).then(
      () => {
        if (this.#listener === undefined || this.#subscribed) return;
        this.#subscribed = true;
        this.#pingSentAt = undefined;
        this.#listener.onSubscribed(at);
      },
      (error: unknown) => {
        this.#onError?.(mapRedisError(error, `SUBSCRIBE ${this.channel}`));
        // A connection that cannot subscribe is replaced, and the next one tries again.
        this.#subscriber.disconnect(true);
      },
    );
  }

  #beat(): void {
    if (!this.#subscribed || this.#listener === undefined) return;
    const pending = this.#pingSentAt;
    if (pending !== undefined) {
      if (performance.now() - pending > this.#silenceMs) {
        this.#lost(`the subscriber's PING got no answer within ${this.#silenceMs} ms`);
        // ioredis' socketTimeout should have replaced the connection already; make sure.
        this.#subscriber.disconnect(true);
      }
      return;
    }
    const at = performance.now();
    this.#pingSentAt = at;
    this.#subscriber.ping().then(
      () => {
        if (this.#pingSentAt !== at) return;
        this.#pingSentAt = undefined;
        if (this.#subscribed) this.#listener?.onConfirmed(at);
      },
      () => {
        if (this.#pingSentAt === at) this.#pingSentAt = undefined;
      },
    );
  }

  #lost(why: string): void {
    if (!this.#subscribed) return;
    this.#subscribed = false;
    this.#pingSentAt = undefined;
    this.#listener?.onDown(new InfrastructureError("UNAVAILABLE", `${WHAT} on ${this.channel}: ${why}`));
  }

  #receive(text: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(text) as Wire;
    } catch (error) {
      this.#onError?.(
        new InfrastructureError("INTERNAL", `${WHAT}: a message is not JSON`, { cause: error }),
      );
      return;
    }
    // One's own, or a sibling's in this process, which was delivered directly already.
    if (wire.o === this.#origin || LOCAL_BUSES.get(this.#localKey)?.has(wire.o)) return;
    const invalidation = decode(wire);
    if (invalidation === undefined) {
      this.#onError?.(new InfrastructureError("INTERNAL", `${WHAT}: a message has an unknown shape`));
      return;
    }
    this.#deliver(invalidation, typeof wire.s === "number" ? wire.s : Number.NaN);
  }

  #deliver(invalidation: Invalidation, sentAt: number): void {
    try {
      this.#listener?.onInvalidation(invalidation, sentAt);
    } catch (error) {
      this.#onError?.(new InfrastructureError("INTERNAL", `${WHAT}: the listener threw`, { cause: error }));
    }
  }
}

function decode(wire: Wire): Invalidation | undefined {
  switch (wire.k) {
    case "keys":
      return Array.isArray(wire.v) && wire.v.every((key) => typeof key === "string")
        ? { kind: "keys", keys: wire.v }
        : undefined;
    case "prefix":
      return typeof wire.v === "string" ? { kind: "prefix", prefix: wire.v } : undefined;
    case "tag":
      return typeof wire.v === "string" ? { kind: "tag", tag: wire.v } : undefined;
    case "clear":
      return { kind: "clear" };
    default:
      return undefined;
  }
}
