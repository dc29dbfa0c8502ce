import { cancelledError, InfrastructureError } from "@proj/ports";
import type { Redis } from "ioredis";
import { mapRedisError } from "./map-redis-error.js";

/** One budget for a whole call, fixed when the call starts, shared by every command it sends. */
export interface Deadline {
  readonly timeoutMs: number;
  /** On the `performance.now()` scale; `Infinity` for none. */
  readonly at: number;
}

export function startDeadline(timeoutMs: number): Deadline {
  return { timeoutMs, at: performance.now() + timeoutMs };
}

/** Names the call in error messages; only called on failure, so the hot path builds no string. */
type Describe = () => string;

/** A sent call, as the connection's events and the deadline timer see it. */
interface InFlight {
  /** The deadline on the `performance.now()` scale. */
  readonly at: number;
  /** The deadline passed without a reply. */
  expire(): void;
  /** The connection under the call was lost: silent (replaced for missing replies) or closed. */
  lose(silent: boolean): void;
}

interface Waiter {
  ready(): void;
  /** The connection attempt failed with `cause`: Redis refused or reset it. */
  unreachable(cause: InfrastructureError): void;
  fail(error: InfrastructureError): void;
}

const RECONNECT_BASE_MS = 100;
const RECONNECT_CAP_MS = 2_000;

/**
 * The delay before reconnect attempt `attempt` (1, 2, …): exponential from 100 ms, capped at 2 s,
 * with "equal jitter" (a uniform draw over the upper half), so processes that lost Redis together
 * do not come back in lockstep, and an outage never turns into a loop of connection attempts (at
 * least 50 ms apart, at most one per second once capped).
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Runs every command of the cache under a deadline, over a client built with no offline queue and
 * no resending of unanswered commands, so that a command is written only while a connection is
 * ready and never replayed on another one:
 *
 * - no connection ready: the call waits for one until its deadline (`TIMEOUT`), or fails at once
 *   with `UNAVAILABLE` while the last connection attempt was refused or reset;
 * - sent: the call fails at its deadline with `TIMEOUT`, or when its connection is lost; ioredis'
 *   `socketTimeout` destroys a connection that stays silent while replies are due, and its
 *   reconnect (with `reconnectDelay`) replaces it;
 * - a write that was sent and got no reply has an unknown outcome: `details.outcome: "unknown"`,
 *   `retryable: false`.
 */
export class RedisCalls {
  readonly #client: Redis;
  readonly #inFlight = new Set<InFlight>();
  /** The shared deadline timer of the sent calls (see `#arm`), and when it fires. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  readonly #waiters = new Set<Waiter>();
  /** Why the last connection attempt failed, until a connection is ready again. */
  #unreachable: InfrastructureError | undefined;
  /** Set when the connection being closed was destroyed for silence, not closed by the peer. */
  #silent = false;

  constructor(client: Redis, onError: ((error: InfrastructureError) => void) | undefined) {
    this.#client = client;
    // Without an error listener, ioredis reports every connection error as an unhandled error event.
    client.on("error", (error: unknown) => {
      const mapped = mapRedisError(error, "the Redis connection");
      if (mapped.code === "TIMEOUT") {
        this.#silent = true;
      } else if (mapped.code === "UNAVAILABLE" && client.status !== "ready") {
        this.#unreachable = mapped;
        for (const waiter of [...this.#waiters]) waiter.unreachable(mapped);
      }
      onError?.(mapped);
    });
    client.on("ready", () => {
      this.#unreachable = undefined;
      for (const waiter of [...this.#waiters]) waiter.ready();
    });
    client.on("close", () => {
      const silent = this.#silent;
      this.#silent = false;
      for (const call of [...this.#inFlight]) call.lose(silent);
    });
  }

  run<T>(
    describe: Describe,
    write: boolean,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    // A read is safe to send again: when the peer closed the connection under it (a restart, a
    // killed client), it waits for the next connection within the same deadline, once.
    return this.#attempt(describe, write, deadline, signal, send, !write);
  }

  #attempt<T>(
    describe: Describe,
    write: boolean,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
    resendOnClose: boolean,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelledError(signal, describe()));
    // "ready" lingers until ioredis handles the close of a connection the peer already ended.
    if (this.#client.status === "ready" && this.#client.stream.writable) {
      return this.#send(describe, write, deadline, signal, send, resendOnClose);
    }
    return this.#whenReady(describe, deadline, signal).then(() =>
      this.#send(describe, write, deadline, signal, send, resendOnClose),
    );
  }

  /** Fails every call still waiting for a connection (the cache is closing). */
  abandonWaiters(error: InfrastructureError): void {
    for (const waiter of [...this.#waiters]) waiter.fail(error);
  }

  #send<T>(
    describe: Describe,
    write: boolean,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
    resendOnClose: boolean,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = new SentCall(
        this,
        describe,
        write,
        deadline,
        signal,
        send,
        resendOnClose,
        resolve,
        reject,
      );
      this.#inFlight.add(call);
      if (call.at !== Number.POSITIVE_INFINITY && call.at < this.#timerAt) this.#arm(call.at);
      if (signal !== undefined) signal.addEventListener("abort", call, { once: true });
      send().then(
        (value) => call.settle(undefined, value),
        (error: unknown) => call.failed(error),
      );
    });
  }

  /** Takes a settled call off the watch; the last one out stops the timer. */
  release(call: InFlight): boolean {
    if (!this.#inFlight.delete(call)) return false;
    if (this.#inFlight.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
    }
    return true;
  }

  resend<T>(call: SentCall<T>): Promise<T> {
    return this.#attempt(call.describe, call.write, call.deadline, call.signal, call.send, false);
  }

  /**
   * One timer for every sent call rather than one per call: it is armed for the earliest deadline
   * in flight and, when it fires, fails the calls that are due and is armed again for the next.
   * Calls that get their reply in time leave it alone: with a timer set and cleared per call (and
   * three closures), an L2 hit of the tiered cache cost about 0.5 µs more CPU (of ~8), 50 in flight.
   */
  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#expire, Math.max(0, at - performance.now()));
  }

  readonly #expire = (): void => {
    // Node may fire a timer a little before `performance.now()` reaches its deadline (its clock is
    // the event loop's, read at the start of an iteration). A call is due once the timer armed for
    // its deadline fires, as a timer of its own would have been: retrying it a millisecond later
    // would let the silent-connection timeout (`socketTimeout`, of the same length) close the
    // connection first, and a write started meanwhile would fail unsent instead of unknown.
    const due = Math.max(this.#timerAt, performance.now());
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    let next = Number.POSITIVE_INFINITY;
    for (const call of [...this.#inFlight]) {
      if (call.at <= due) call.expire();
      else if (call.at < next) next = call.at;
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#timerAt) this.#arm(next);
  };

  #whenReady(describe: Describe, deadline: Deadline, signal: AbortSignal | undefined): Promise<void> {
    if (this.#unreachable !== undefined) {
      return Promise.reject(unreachableError(this.#unreachable, describe()));
    }
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (error?: InfrastructureError) => {
        if (!this.#waiters.delete(waiter)) return;
        if (timer !== undefined) clearTimeout(timer);
        if (signal !== undefined) signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter: Waiter = {
        ready: () => settle(),
        unreachable: (cause) => settle(unreachableError(cause, describe())),
        fail: settle,
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
                `${describe()} found no ready connection to Redis within ${deadline.timeoutMs} ms (not sent)`,
                { retryable: true },
              ),
            ),
          Math.max(0, remaining),
        );
      }
      if (signal !== undefined) signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/**
 * A command written to the connection, until its reply, its deadline, its signal (it is its own
 * abort listener) or the loss of its connection, whichever comes first: one object per call, no
 * closures but the two handlers of the reply.
 */
class SentCall<T> implements InFlight {
  readonly at: number;

  constructor(
    readonly calls: RedisCalls,
    readonly describe: Describe,
    readonly write: boolean,
    readonly deadline: Deadline,
    readonly signal: AbortSignal | undefined,
    readonly send: () => Promise<T>,
    readonly resendOnClose: boolean,
    readonly resolve: (value: T | Promise<T>) => void,
    readonly reject: (error: InfrastructureError) => void,
  ) {
    this.at = deadline.at;
  }

  settle(error: InfrastructureError | undefined, value?: T | Promise<T>): void {
    if (!this.calls.release(this)) return;
    if (this.signal !== undefined) this.signal.removeEventListener("abort", this);
    if (error === undefined) this.resolve(value as T | Promise<T>);
    else this.reject(error);
  }

  failed(error: unknown): void {
    const mapped = mapRedisError(error, this.describe());
    this.settle(this.write && mayHaveRun(error) ? sentAndLost(mapped, this.write) : mapped);
  }

  expire(): void {
    this.settle(
      sentAndLost(
        new InfrastructureError(
          "TIMEOUT",
          `${this.describe()} got no reply within ${this.deadline.timeoutMs} ms`,
        ),
        this.write,
      ),
    );
  }

  lose(silent: boolean): void {
    if (!silent && this.resendOnClose) {
      this.settle(undefined, this.calls.resend(this));
      return;
    }
    const lost = new InfrastructureError(
      silent ? "TIMEOUT" : "UNAVAILABLE",
      `${this.describe()} failed: ${silent ? "the connection to Redis went silent" : "the connection to Redis closed before the reply"}`,
    );
    this.settle(sentAndLost(lost, this.write));
  }

  /** The abort listener of the call's signal. */
  handleEvent(): void {
    this.settle(sentAndLost(cancelledError(this.signal!, this.describe()), this.write));
  }
}

/** Not sent: the last connection attempt was refused or reset. Safe to retry later. */
function unreachableError(cause: InfrastructureError, what: string): InfrastructureError {
  return new InfrastructureError("UNAVAILABLE", `${what} failed: Redis is unreachable (not sent)`, {
    cause,
    retryable: true,
    details: cause.details,
  });
}

/** A reply error means Redis answered (and did not apply the write); anything else may have run. */
function mayHaveRun(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  return error.name !== "ReplyError" && !error.message.startsWith("Stream isn't writeable");
}

/** A write that reached the socket and got no answer may or may not have been applied. */
function sentAndLost(error: InfrastructureError, write: boolean): InfrastructureError {
  if (!write) return error;
  return new InfrastructureError(error.code, `${error.message}; the write may or may not have been applied`, {
    cause: error.cause ?? error,
    retryable: false,
    details: { ...error.details, outcome: "unknown" },
  });
}
