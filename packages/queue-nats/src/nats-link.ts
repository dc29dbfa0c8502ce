import {
  connect,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NodeConnectionOptions,
  type Subscription,
} from "@nats-io/transport-node";
import { cancelledError, closedError, InfrastructureError, outcomeUnknownError } from "@proj/ports";
import { type ApiErrorReply, isNoResponders, mapApiError, mapNatsError } from "./map-nats-error.js";

/** One budget for a whole call, fixed when the call starts, shared by every request it sends. */
export interface Deadline {
  readonly timeoutMs: number;
  /** On the `performance.now()` scale; `Infinity` for none. */
  readonly at: number;
}

export function startDeadline(timeoutMs: number): Deadline {
  return { timeoutMs, at: performance.now() + timeoutMs };
}

/** Names the call in error messages; only called on failure, so the hot path builds no string. */
export type Describe = () => string;

/** setTimeout's largest delay: a deadline of `Infinity` waits this long per request. */
const MAX_TIMER_MS = 2_147_483_647;
const RECONNECT_BASE_MS = 100;
const RECONNECT_CAP_MS = 2_000;
/** How long `close()` lets buffered acknowledgements reach the server before it closes the socket. */
const CLOSE_FLUSH_MS = 2_000;

/**
 * The delay before (re)connect attempt `attempt` (1, 2, …): exponential from 100 ms, capped at 2 s,
 * with "equal jitter" (a uniform draw over the upper half), so processes that lost the server
 * together do not come back in lockstep, and an outage never turns into a busy loop of attempts.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Told when the connection is lost and when it is back (a fresh connection: subscriptions are gone). */
export interface LinkListener {
  disconnected(): void;
  reconnected(): void;
}

export interface LinkOptions {
  servers: string | string[];
  /** nats.js options applied over the link's defaults. */
  connection: Omit<NodeConnectionOptions, "servers"> | undefined;
  name: string;
  onError: ((error: InfrastructureError) => void) | undefined;
}

interface Waiter {
  ready(connection: NatsConnection): void;
  fail(error: InfrastructureError): void;
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

/**
 * One NATS connection and the rules every call follows on it:
 *
 * - a request is written only while the connection is up (nats.js drops what is written while it
 *   reconnects): with no connection the call waits for one until its deadline (`TIMEOUT`, not
 *   sent), or fails at once with `UNAVAILABLE` (not sent) once a connection attempt has failed;
 * - a request that was written and got no reply fails at its deadline with `TIMEOUT`; for a write
 *   (a publish, a delete) its outcome is unknown: `details.outcome: "unknown"`, `retryable: false`;
 * - the connection reconnects forever, with `reconnectDelay` between attempts.
 */
export class NatsLink {
  readonly #options: LinkOptions;
  readonly #waiters = new Set<Waiter>();
  readonly #listeners = new Set<LinkListener>();
  readonly #stop = new AbortController();
  #nc: NatsConnection | undefined;
  #connected = false;
  #closing: Promise<void> | undefined;
  /** Why the last connection attempt failed, until a connection is up again. */
  #unreachable: InfrastructureError | undefined;
  /** Reconnect attempts since the connection was lost. */
  #attempts = 0;
  #everConnected = false;

  constructor(options: LinkOptions) {
    this.#options = options;
    void this.#connectLoop();
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The nats.js connection once it exists (for what the port does not cover). */
  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  get closed(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Calls `listener` on every loss and return of the connection; returns the way to stop. */
  listen(listener: LinkListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Fire and forget: acknowledgements, lease renewals, pull requests. Nothing is sent while the
   * connection is down; the server's ack wait (the lease) covers what is lost.
   */
  publish(subject: string, data: string, reply?: string): void {
    const nc = this.#nc;
    if (nc === undefined || !this.#connected) return;
    try {
      nc.publish(subject, data, reply === undefined ? undefined : { reply });
    } catch (error) {
      this.#options.onError?.(mapNatsError(error, `publishing to ${subject}`));
    }
  }

  /** A subscription on the current connection, or undefined while there is none. */
  subscribe(subject: string, callback: (msg: Msg) => void): Subscription | undefined {
    const nc = this.#nc;
    if (nc === undefined || !this.#connected) return undefined;
    return nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) this.#options.onError?.(mapNatsError(error, `the subscription to ${subject}`));
        else callback(msg);
      },
    });
  }

  /** Sends a request and waits for its reply under `deadline` (see the class comment). */
  request(
    subject: string,
    data: string | Uint8Array,
    headers: MsgHdrs | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    write: boolean,
    describe: Describe,
  ): Promise<Msg> {
    if (signal?.aborted) return Promise.reject(cancelledError(signal, describe()));
    const nc = this.#nc;
    if (nc !== undefined && this.#connected) {
      return this.#send(nc, subject, data, headers, deadline, signal, write, describe);
    }
    return this.#whenReady(deadline, signal, describe).then((ready) =>
      this.#send(ready, subject, data, headers, deadline, signal, write, describe),
    );
  }

  /** A JetStream API call: a JSON request whose reply is JSON, or `{ error }`. */
  async api<T>(
    subject: string,
    body: unknown,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    write: boolean,
    describe: Describe,
  ): Promise<T> {
    const msg = await this.request(
      subject,
      body === undefined ? "" : JSON.stringify(body),
      undefined,
      deadline,
      signal,
      write,
      describe,
    );
    return parseApiReply<T>(msg, describe);
  }

  /** Flushes what is buffered (bounded), then closes the connection. Idempotent. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#stop.abort();
      const error = closedError("NATS job queue");
      for (const waiter of [...this.#waiters]) waiter.fail(error);
      this.#closing = this.#closeConnection();
    }
    return this.#closing;
  }

  async #closeConnection(): Promise<void> {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) return;
    if (this.#connected) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        nc.flush().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_FLUSH_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await nc.close().catch(() => undefined);
  }

  async #connectLoop(): Promise<void> {
    const { servers, name, connection, onError } = this.#options;
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        const nc = await connect({
          name,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () => reconnectDelay(this.#attempts),
          // A silent connection (a dead network path) is replaced after two unanswered pings.
          pingInterval: 10_000,
          maxPingOut: 2,
          timeout: 10_000,
          noAsyncTraces: true,
          ...connection,
          servers,
        });
        if (this.closed) {
          await nc.close().catch(() => undefined);
          return;
        }
        // A connection made again after the client gave one up: workers start afresh on it.
        const again = this.#everConnected;
        this.#nc = nc;
        this.#everConnected = true;
        this.#up();
        void this.#watch(nc);
        if (again) for (const listener of [...this.#listeners]) listener.reconnected();
        return;
      } catch (error) {
        const mapped = mapNatsError(error, "connecting to NATS");
        this.#down(mapped);
        onError?.(mapped);
        await sleep(reconnectDelay(attempt), this.#stop.signal);
      }
    }
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          this.#connected = false;
          this.#attempts = 0;
          for (const listener of [...this.#listeners]) listener.disconnected();
          break;
        case "reconnecting":
          this.#attempts += 1;
          // The attempt before this one failed: the server is not there right now.
          if (this.#attempts >= 2 && !this.#connected) {
            this.#down(
              new InfrastructureError("UNAVAILABLE", "NATS is unreachable: reconnecting", {
                details: { attempts: this.#attempts - 1 },
              }),
            );
          }
          break;
        case "reconnect":
          this.#up();
          for (const listener of [...this.#listeners]) listener.reconnected();
          break;
        case "error":
          this.#options.onError?.(mapNatsError(status.error, "the NATS connection"));
          break;
        case "staleConnection":
          this.#options.onError?.(
            new InfrastructureError("UNAVAILABLE", "the NATS connection went silent; reconnecting"),
          );
          break;
        default:
          break;
      }
    }
    // The client gave up on this connection (it stops after repeated authentication errors):
    // unless the link is closing, start over with a new one.
    if (this.closed) return;
    this.#connected = false;
    this.#nc = undefined;
    for (const listener of [...this.#listeners]) listener.disconnected();
    const lost = new InfrastructureError(
      "UNAVAILABLE",
      "the NATS connection was closed by the client; connecting again",
    );
    this.#down(lost);
    this.#options.onError?.(lost);
    void this.#connectLoop();
  }

  #up(): void {
    const nc = this.#nc;
    if (nc === undefined) return;
    this.#connected = true;
    this.#unreachable = undefined;
    this.#attempts = 0;
    for (const waiter of [...this.#waiters]) waiter.ready(nc);
  }

  #down(cause: InfrastructureError): void {
    this.#unreachable = cause;
    const error = unreachableError(cause);
    for (const waiter of [...this.#waiters]) waiter.fail(error);
  }

  #whenReady(
    deadline: Deadline,
    signal: AbortSignal | undefined,
    describe: Describe,
  ): Promise<NatsConnection> {
    if (this.closed) return Promise.reject(closedError("NATS job queue"));
    if (this.#unreachable !== undefined) {
      const cause = unreachableError(this.#unreachable);
      return Promise.reject(
        new InfrastructureError(cause.code, `${describe()} failed: ${cause.message}`, {
          cause: this.#unreachable,
          retryable: cause.retryable,
          details: cause.details,
        }),
      );
    }
    return new Promise<NatsConnection>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (error: InfrastructureError | undefined, nc?: NatsConnection) => {
        if (!this.#waiters.delete(waiter)) return;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(nc as NatsConnection);
        else reject(error);
      };
      const waiter: Waiter = {
        ready: (nc) => settle(undefined, nc),
        fail: (error) =>
          settle(
            error.code === "CLOSED"
              ? error
              : new InfrastructureError(error.code, `${describe()} failed: ${error.message}`, {
                  cause: error.cause ?? error,
                  retryable: error.retryable,
                  details: error.details,
                }),
          ),
      };
      const onAbort = () => settle(cancelledError(signal!, describe()));
      this.#waiters.add(waiter);
      const remaining = deadline.at - performance.now();
      if (remaining !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(
          () =>
            settle(
              new InfrastructureError(
                "TIMEOUT",
                `${describe()} found no connection to NATS within ${deadline.timeoutMs} ms (not sent)`,
                { retryable: true },
              ),
            ),
          Math.min(MAX_TIMER_MS, Math.max(0, remaining)),
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #send(
    nc: NatsConnection,
    subject: string,
    data: string | Uint8Array,
    headers: MsgHdrs | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    write: boolean,
    describe: Describe,
  ): Promise<Msg> {
    const remaining = deadline.at - performance.now();
    if (remaining <= 0) {
      return Promise.reject(
        new InfrastructureError(
          "TIMEOUT",
          `${describe()} ran out of its ${deadline.timeoutMs} ms (not sent)`,
          {
            retryable: true,
          },
        ),
      );
    }
    const timeout = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(remaining)));
    const sent = nc
      .request(subject, data, headers === undefined ? { timeout } : { timeout, headers })
      .catch((error: unknown) => {
        throw sentAndFailed(mapNatsError(error, describe()), write, deadline, this.closed);
      });
    if (signal === undefined) return sent;
    return new Promise<Msg>((resolve, reject) => {
      const onAbort = () => {
        const cancelled = cancelledError(signal, describe());
        reject(
          write
            ? outcomeUnknownError(
                cancelled.code === "TIMEOUT" ? "TIMEOUT" : "CANCELLED",
                `${cancelled.message} after it was sent; it may or may not have been applied`,
                { cause: cancelled },
              )
            : cancelled,
        );
      };
      signal.addEventListener("abort", onAbort, { once: true });
      sent.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }
}

/** Not sent: the last connection attempt failed. Safe to retry later. */
function unreachableError(cause: InfrastructureError): InfrastructureError {
  const code =
    cause.code === "UNAUTHENTICATED" || cause.code === "PERMISSION_DENIED" ? cause.code : "UNAVAILABLE";
  return new InfrastructureError(code, `${cause.message} (not sent)`, {
    cause,
    retryable: code === "UNAVAILABLE",
    details: cause.details,
  });
}

/**
 * A request that was written: a "no responders" status or an API error means the server did not
 * apply it; a missing reply (timeout, lost connection) leaves a write's outcome unknown.
 */
function sentAndFailed(
  error: InfrastructureError,
  write: boolean,
  deadline: Deadline,
  closing: boolean,
): InfrastructureError {
  if (isNoResponders(error)) return error;
  if (error.code === "TIMEOUT") {
    const message = `${error.message.replace(/ timed out$/, "")} got no reply within ${deadline.timeoutMs} ms`;
    return write
      ? outcomeUnknownError("TIMEOUT", `${message}; it may or may not have been applied`, {
          cause: error.cause,
        })
      : new InfrastructureError("TIMEOUT", message, { cause: error.cause });
  }
  if (error.code === "CLOSED" && closing) return error;
  if (!write) return error;
  if (error.code === "CLOSED" || error.code === "UNAVAILABLE") {
    return outcomeUnknownError("UNAVAILABLE", `${error.message}; it may or may not have been applied`, {
      cause: error.cause ?? error,
    });
  }
  return error;
}

/** Parses a JetStream API reply; throws the mapped error for `{ error }`. */
export function parseApiReply<T>(msg: Msg, describe: Describe): T {
  let reply: T & { error?: ApiErrorReply };
  try {
    reply = JSON.parse(msg.string()) as T & { error?: ApiErrorReply };
  } catch (cause) {
    throw new InfrastructureError("INTERNAL", `${describe()} failed: the reply from NATS is not JSON`, {
      cause,
    });
  }
  if (reply.error !== undefined) throw mapApiError(reply.error, describe());
  return reply;
}
