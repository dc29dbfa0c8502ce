import type { Socket } from "node:net";
import {
  cancelledError,
  closedError,
  InfrastructureError,
  postgresDialect,
  type SqlListener,
  type SqlListenOptions,
  throwIfAborted,
  validateSqlChannel,
} from "@proj/ports";
import pg from "pg";
import { mapPostgresError } from "./map-postgres-error.js";

/** Back-off between tries to get the listening connection back: 100 ms doubling to 5 s, jittered. */
const RECONNECT_INITIAL_MS = 100;
const RECONNECT_MAX_MS = 5_000;

interface Subscriber {
  readonly channel: string;
  readonly onNotification: (payload: string) => void;
  readonly onError: ((error: InfrastructureError) => void) | undefined;
  readonly onResume: (() => void) | undefined;
  /** `listen()` resolved: the subscriber hears about losses and resumes from now on. */
  established: boolean;
  active: boolean;
}

/** One connection of the listener, LISTENing on `listening`. */
interface Session {
  readonly client: pg.Client;
  readonly listening: Set<string>;
  /** Commands run one at a time (pg deprecates queueing on a busy client). */
  tail: Promise<unknown>;
  /** Ended on purpose: its end is no loss. */
  ending: boolean;
  /** Connected and listening: from now on its end is a loss to report. */
  opened: boolean;
  gone: boolean;
  heartbeat: NodeJS.Timeout | undefined;
}

export interface NotificationDefaults {
  /** Deadline of connecting and of each LISTEN / UNLISTEN / heartbeat, and of `listen()` by default. */
  readonly timeoutMs: number;
  /** How long an ending connection gets to say goodbye before its socket is destroyed. */
  readonly graceMs: number;
  /**
   * How often an idle listening connection proves it is alive with `SELECT 1`. A connection that
   * went silent (a dead network path) shows no error until TCP gives up, minutes later; a missed
   * heartbeat destroys it, so the reconnect starts within one interval plus the deadline.
   */
  readonly heartbeatMs: number;
}

function socketOf(client: pg.Client): Socket | undefined {
  return (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
}

function quoteChannel(channel: string): string {
  return postgresDialect.quoteIdentifier(channel);
}

/** Rejects with `TIMEOUT` after `ms` (calling `onLate`), or `CANCELLED` when `signal` fires first. */
function bounded<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  signal?: AbortSignal,
  onLate?: () => void,
): Promise<T> {
  if (!Number.isFinite(ms) && signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          done();
          onLate?.();
          reject(new InfrastructureError("TIMEOUT", `${what} got no answer within ${ms} ms`));
        }, ms)
      : undefined;
    const onAbort = () => {
      done();
      reject(cancelledError(signal as AbortSignal, what));
    };
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/**
 * LISTEN/NOTIFY for one database: a dedicated `pg.Client` outside the pool (a pooled connection
 * would be handed to other calls, and the server only delivers to the session that listens),
 * shared by every listener and opened only while there is one. A lost connection is reported to
 * the listeners, reopened with a back-off, and every channel listened to again.
 */
export class PostgresNotifications {
  readonly #config: pg.ClientConfig;
  readonly #defaults: NotificationDefaults;
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  #session: Promise<Session> | undefined;
  /** The open session `#session` resolved to, until it is lost or ended. */
  #current: Session | undefined;
  /** The session being opened, so that giving up on it (no listener left) stops it at once. */
  #opening: Session | undefined;
  /** Established listeners are in a gap: their connection was lost and is not back yet. */
  #gap = false;
  #failures = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #ending = new Set<Promise<void>>();

  constructor(config: pg.ClientConfig, defaults: NotificationDefaults) {
    this.#config = config;
    this.#defaults = defaults;
  }

  async listen(
    channel: string,
    onNotification: (payload: string) => void,
    options: SqlListenOptions = {},
  ): Promise<SqlListener> {
    if (this.#closed) throw closedError("PostgreSQL database (listen)");
    validateSqlChannel(channel);
    if (typeof onNotification !== "function") {
      throw new InfrastructureError("INVALID_ARGUMENT", "onNotification must be a function", {
        retryable: false,
      });
    }
    const { signal } = options;
    throwIfAborted(signal, "listen");
    const timeoutMs = options.timeoutMs ?? this.#defaults.timeoutMs;
    if (!(typeof timeoutMs === "number" && timeoutMs > 0)) {
      throw new InfrastructureError("INVALID_ARGUMENT", "timeoutMs must be a positive number or Infinity");
    }
    const subscriber: Subscriber = {
      channel,
      onNotification,
      onError: options.onError,
      onResume: options.onResume,
      established: false,
      active: true,
    };
    let set = this.#subscribers.get(channel);
    if (set === undefined) {
      set = new Set();
      this.#subscribers.set(channel, set);
    }
    set.add(subscriber);
    try {
      await bounded(this.#listenOn(channel), timeoutMs, `listen on ${channel}`, signal);
    } catch (error) {
      await this.#remove(subscriber);
      throw mapPostgresError(error, `listen on ${channel}`);
    }
    subscriber.established = true;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= this.#remove(subscriber);
      return closing;
    };
    signal?.addEventListener("abort", () => void close(), { once: true });
    return { channel, close, [Symbol.asyncDispose]: close };
  }

  /** Connects when needed, then makes sure the session listens on `channel`. */
  async #listenOn(channel: string): Promise<void> {
    const session = await this.#connect();
    if (session.listening.has(channel)) return;
    await this.#command(session, `LISTEN ${quoteChannel(channel)}`, `listen on ${channel}`);
    session.listening.add(channel);
  }

  #connect(): Promise<Session> {
    if (this.#session !== undefined) return this.#session;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const attempt = this.#open();
    this.#session = attempt;
    attempt.then(
      () => {
        if (this.#session !== attempt || !this.#gap) return;
        this.#gap = false;
        this.#failures = 0;
        for (const subscriber of this.#established()) {
          try {
            subscriber.onResume?.();
          } catch {
            // A listener's own failure must not keep the others from hearing.
          }
        }
      },
      (error: unknown) => {
        if (this.#session === attempt) this.#session = undefined;
        if (this.#gap) {
          this.#report(mapPostgresError(error, "reconnect the listening connection"));
          this.#scheduleReconnect();
        }
      },
    );
    return attempt;
  }

  async #open(): Promise<Session> {
    const client = new pg.Client({
      ...this.#config,
      connectionTimeoutMillis: Number.isFinite(this.#defaults.timeoutMs)
        ? Math.ceil(this.#defaults.timeoutMs)
        : 0,
      keepAlive: true,
    });
    const session: Session = {
      client,
      listening: new Set(),
      tail: Promise.resolve(),
      ending: false,
      opened: false,
      gone: false,
      heartbeat: undefined,
    };
    this.#opening = session;
    const lost = (error?: Error) => this.#lost(session, error);
    // Without an 'error' listener a dropped socket would crash the process.
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => this.#dispatch(message.channel, message.payload ?? ""));
    try {
      await client.connect();
      const channels = [...this.#subscribers.keys()];
      if (channels.length > 0) {
        await this.#command(
          session,
          channels.map((channel) => `LISTEN ${quoteChannel(channel)}`).join("; "),
          "listen",
        );
        for (const channel of channels) session.listening.add(channel);
      }
    } catch (error) {
      session.ending = true;
      this.#end(session);
      throw error;
    } finally {
      if (this.#opening === session) this.#opening = undefined;
    }
    if (this.#closed || this.#count() === 0) {
      // Everyone left while it connected.
      session.ending = true;
      this.#end(session);
      throw closedError("PostgreSQL listening connection");
    }
    session.opened = true;
    this.#current = session;
    session.heartbeat = setInterval(() => {
      this.#command(session, "SELECT 1", "listening connection heartbeat").catch(() => undefined);
    }, this.#defaults.heartbeatMs);
    session.heartbeat.unref();
    return session;
  }

  /** One command on the session, after the previous one; past the deadline the socket is destroyed. */
  #command(session: Session, text: string, what: string): Promise<void> {
    const run = session.tail.then(() => session.client.query(text));
    session.tail = run.catch(() => undefined);
    return bounded(run, this.#defaults.timeoutMs, what, undefined, () =>
      socketOf(session.client)?.destroy(),
    ).then(() => undefined);
  }

  #dispatch(channel: string, payload: string): void {
    const set = this.#subscribers.get(channel);
    if (set === undefined) return;
    for (const subscriber of [...set]) {
      if (!subscriber.active) continue;
      try {
        subscriber.onNotification(payload);
      } catch {
        // A listener's own failure must not keep the others from hearing.
      }
    }
  }

  #lost(session: Session, error: Error | undefined): void {
    if (session.gone) return;
    session.gone = true;
    clearInterval(session.heartbeat);
    // The client may still hold a socket (an 'error' before 'end'): let it go for good.
    socketOf(session.client)?.destroy();
    // Before it opened, #open's own failure path reports (when there is a gap to report).
    if (session.ending || !session.opened || this.#closed) return;
    if (this.#current === session) {
      this.#current = undefined;
      this.#session = undefined;
    }
    if (this.#established().length === 0) return;
    this.#gap = true;
    this.#report(
      mapPostgresError(
        error ?? new Error("Connection terminated unexpectedly"),
        "listening connection (notifications are missed until it is back)",
      ),
    );
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== undefined || this.#established().length === 0) return;
    this.#failures += 1;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * 2 ** Math.min(this.#failures - 1, 16));
    this.#reconnectTimer = setTimeout(
      () => {
        this.#reconnectTimer = undefined;
        if (this.#session === undefined) void this.#connect().catch(() => undefined);
      },
      ceiling / 2 + Math.random() * (ceiling / 2),
    );
  }

  #report(error: InfrastructureError): void {
    for (const subscriber of this.#established()) {
      try {
        subscriber.onError?.(error);
      } catch {
        // A listener's own failure must not keep the others from hearing.
      }
    }
  }

  #established(): Subscriber[] {
    const all: Subscriber[] = [];
    for (const set of this.#subscribers.values())
      for (const subscriber of set) if (subscriber.established && subscriber.active) all.push(subscriber);
    return all;
  }

  #count(): number {
    let count = 0;
    for (const set of this.#subscribers.values()) count += set.size;
    return count;
  }

  /** Stops delivery to `subscriber` at once; UNLISTENs its channel or ends the connection if it was the last. */
  async #remove(subscriber: Subscriber): Promise<void> {
    subscriber.active = false;
    const set = this.#subscribers.get(subscriber.channel);
    if (set === undefined || !set.delete(subscriber)) return;
    if (set.size > 0) return;
    this.#subscribers.delete(subscriber.channel);
    const pending = this.#session;
    if (this.#count() === 0) {
      // Detached synchronously, so a listen() that comes next opens a connection of its own.
      this.#session = undefined;
      this.#current = undefined;
      this.#gap = false;
      this.#failures = 0;
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
      this.#abandonOpening();
      const session = await pending?.catch(() => undefined);
      if (session !== undefined) {
        session.ending = true;
        await this.#end(session);
      }
      return;
    }
    const session = await pending?.catch(() => undefined);
    if (session === undefined || session.gone || !session.listening.has(subscriber.channel)) return;
    if (this.#subscribers.has(subscriber.channel)) return; // a new listener came meanwhile
    session.listening.delete(subscriber.channel);
    // Best effort: a failure here ends the connection, and the next one will not listen on it.
    await this.#command(session, `UNLISTEN ${quoteChannel(subscriber.channel)}`, "unlisten").catch(
      () => undefined,
    );
  }

  /** A connection still being opened is no longer wanted: its socket goes now, its connect fails. */
  #abandonOpening(): void {
    const opening = this.#opening;
    if (opening === undefined) return;
    opening.ending = true;
    socketOf(opening.client)?.destroy();
  }

  /** Ends the session's connection; past the grace period its socket is destroyed. */
  #end(session: Session): Promise<void> {
    clearInterval(session.heartbeat);
    const ended = bounded(session.client.end(), this.#defaults.graceMs, "end listening connection")
      .catch(() => socketOf(session.client)?.destroy())
      .then(() => undefined);
    this.#ending.add(ended);
    void ended.finally(() => this.#ending.delete(ended));
    return ended;
  }

  /** Closes every listener and the connection; `listen()` is `CLOSED` from now on. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    for (const set of this.#subscribers.values()) for (const subscriber of set) subscriber.active = false;
    this.#subscribers.clear();
    this.#abandonOpening();
    const pending = this.#session;
    this.#session = undefined;
    this.#current = undefined;
    const session = await pending?.catch(() => undefined);
    if (session !== undefined) {
      session.ending = true;
      await this.#end(session);
    }
    await Promise.all([...this.#ending]);
  }
}
