import { cancelledError, InfrastructureError } from "@proj/ports";
import type { Redis } from "ioredis";
import { lostReply, mapRedisError, mayHaveRun } from "./redis-errors.js";

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
export type Describe = () => string;

interface Waiter {
  ready(): void;
  fail(error: InfrastructureError): void;
}

const RECONNECT_BASE_MS = 100;
const RECONNECT_CAP_MS = 2_000;

/**
 * The delay before reconnect attempt `attempt` (1, 2, …): exponential from 100 ms, capped at 2 s,
 * over the upper half of each step ("equal jitter"), so an outage never turns into a loop of
 * connection attempts and processes that lost Redis together do not come back in lockstep.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A call in flight whose deadline is `at` (`performance.now()` scale); `expire` fails it. It is its
 * own link in `DueCalls`'s list, so tracking it allocates nothing.
 */
export abstract class DueCall {
  abstract readonly at: number;
  abstract expire(): void;
  /** @internal */
  previous: DueCall | undefined = undefined;
  /** @internal */
  next: DueCall | undefined = undefined;
  /** @internal */
  listed = false;
}

/**
 * The deadlines of the calls in flight, on one timer set for the earliest of them: a timer of its
 * own per call cost more CPU than the rest of the call's bookkeeping together, and so did a `Set`
 * of the calls. Calls of one `timeoutMs` are due in the order they were sent, so the timer is
 * rarely moved. When no call is left the timer stays set but stops holding the process open
 * (`unref`): one call at a time would otherwise set and clear a timer per call. When it fires it
 * is set again for the earliest call left, if any.
 */
export class DueCalls {
  #first: DueCall | undefined;
  #last: DueCall | undefined;
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires; `Infinity` when none is set. */
  #timerAt = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.#size;
  }

  /** Whether the timer holds the process open: only while a call is in flight. */
  get holdsProcessOpen(): boolean {
    return this.#timer?.hasRef() ?? false;
  }

  add(call: DueCall): void {
    if (call.listed) return;
    call.listed = true;
    call.previous = this.#last;
    call.next = undefined;
    if (this.#last === undefined) this.#first = call;
    else this.#last.next = call;
    this.#last = call;
    this.#size += 1;
    if (call.at < this.#timerAt) this.#arm(call.at);
    else if (this.#size === 1) this.#timer?.ref();
  }

  delete(call: DueCall): void {
    if (!call.listed) return;
    this.#unlink(call);
    if (this.#size === 0) this.#timer?.unref();
  }

  #unlink(call: DueCall): void {
    call.listed = false;
    if (call.previous === undefined) this.#first = call.next;
    else call.previous.next = call.next;
    if (call.next === undefined) this.#last = call.previous;
    else call.next.previous = call.previous;
    call.previous = undefined;
    call.next = undefined;
    this.#size -= 1;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - performance.now()));
  }

  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    // A timer may fire a little before its time on the clock read here; it is then set again.
    const now = performance.now();
    const expired: DueCall[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (let call = this.#first; call !== undefined; call = call.next) {
      if (call.at <= now) expired.push(call);
      else if (call.at < next) next = call.at;
    }
    for (const call of expired) this.#unlink(call);
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    for (const call of expired) call.expire();
  }
}

/**
 * One command sent and not yet answered: settles its caller's promise once, with the reply, the
 * abort of its signal (it is the abort listener) or its deadline (it is a `DueCall`).
 */
class SentCall<T> extends DueCall {
  readonly at: number;
  readonly repliesAtSend: number;
  readonly generation: number;
  #done = false;

  constructor(
    readonly calls: RedisCalls,
    readonly describe: Describe,
    readonly write: boolean,
    readonly deadline: Deadline,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (value: T) => void,
    readonly reject: (error: InfrastructureError) => void,
  ) {
    super();
    this.at = deadline.at;
    this.repliesAtSend = calls.replies;
    this.generation = calls.generation;
  }

  settle(error: InfrastructureError | undefined, value?: T): void {
    if (this.#done) return;
    this.#done = true;
    this.calls.forget(this as SentCall<never>);
    this.signal?.removeEventListener("abort", this);
    if (error === undefined) this.resolve(value as T);
    else this.reject(error);
  }

  /** The abort of the caller's signal. */
  handleEvent(): void {
    const error = cancelledError(this.signal as AbortSignal, this.describe());
    this.settle(this.write ? lostReply(error) : error);
  }

  expire(): void {
    if (this.#done) return;
    const error = new InfrastructureError(
      "TIMEOUT",
      `${this.describe()} got no reply from Redis within ${this.deadline.timeoutMs} ms`,
    );
    this.settle(this.write ? lostReply(error) : error);
    this.calls.expired(this as SentCall<never>);
  }
}

/**
 * Runs the producer-side calls of the queue (`enqueue`, `cancel`, `listDeadLetters`, `redrive`)
 * under a deadline, over a client built without an offline queue, that never resends an
 * unanswered command and that fails the commands in flight when its connection closes:
 *
 * - no connection ready: the call waits for one until its deadline (`TIMEOUT`, not sent), or fails
 *   at once with `UNAVAILABLE` (not sent, retryable) while the last connection attempt was refused
 *   or reset;
 * - sent: the call fails at its deadline with `TIMEOUT`, or when its connection is lost; a write
 *   then has an unknown outcome (`details.outcome: "unknown"`, not retryable);
 * - a connection that sent nothing back for a whole call's deadline is dropped and replaced: on a
 *   half-open connection, or one whose replies went missing, no later reply could be trusted to
 *   answer the command it seems to answer.
 */
export class RedisCalls {
  readonly #client: Redis;
  readonly #waiters = new Set<Waiter>();
  /** Why the last connection attempt failed, until a connection is ready again. */
  #unreachable: InfrastructureError | undefined;
  /** How many calls got their reply (or an error reply): the connection was alive then. */
  #replies = 0;
  /** Bumped when a connection closes, so a late timer does not drop its successor. */
  #generation = 0;
  /** The deadlines of the calls sent and not yet answered. */
  readonly #due = new DueCalls();

  /** A connection not ready this long after its TCP connect (its handshake went unanswered) is dropped. */
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    client: Redis,
    onError: ((error: InfrastructureError) => void) | undefined,
    handshakeMs: number,
  ) {
    this.#client = client;
    // Without an error listener, ioredis reports every connection error as an unhandled error event.
    client.on("error", (error: unknown) => {
      const mapped = mapRedisError(error, "the Redis connection");
      if (mapped.code === "UNAVAILABLE" && client.status !== "ready") {
        this.#unreachable = new InfrastructureError("UNAVAILABLE", "Redis is unreachable (not sent)", {
          cause: mapped,
          retryable: true,
          details: mapped.details,
        });
        for (const waiter of [...this.#waiters]) waiter.fail(this.#unreachable);
      }
      onError?.(mapped);
    });
    client.on("connect", () => {
      // The ready check (INFO) and CLIENT SETNAME go out now; on a silent path their answers never
      // come and ioredis would wait for them forever.
      clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = setTimeout(() => {
        if (client.status === "connect") client.disconnect(true);
      }, handshakeMs);
      this.#handshakeTimer.unref();
    });
    client.on("ready", () => {
      clearTimeout(this.#handshakeTimer);
      this.#unreachable = undefined;
      for (const waiter of [...this.#waiters]) waiter.ready();
    });
    client.on("close", () => {
      clearTimeout(this.#handshakeTimer);
      this.#generation += 1;
    });
  }

  /**
   * Sends `send` once a connection is ready, within `deadline`. `write` says whether the command
   * changes anything: a write whose reply is lost is reported with an unknown outcome.
   */
  run<T>(
    describe: Describe,
    write: boolean,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelledError(signal, describe()));
    // "ready" lingers until ioredis handles the close of a connection the peer already ended.
    if (this.#client.status === "ready" && this.#client.stream?.writable) {
      return this.#send(describe, write, deadline, signal, send);
    }
    return this.#whenReady(describe, deadline, signal).then(() =>
      this.#send(describe, write, deadline, signal, send),
    );
  }

  /** Fails every call still waiting for a connection (the queue is closing). */
  abandonWaiters(error: InfrastructureError): void {
    for (const waiter of [...this.#waiters]) waiter.fail(error);
  }

  #send<T>(
    describe: Describe,
    write: boolean,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = new SentCall<T>(this, describe, write, deadline, signal, resolve, reject);
      if (call.at !== Number.POSITIVE_INFINITY) this.#due.add(call);
      signal?.addEventListener("abort", call, { once: true });
      send().then(
        (value) => {
          this.#replies += 1;
          call.settle(undefined, value);
        },
        (error: unknown) => {
          if ((error as { name?: unknown } | null)?.name === "ReplyError") this.#replies += 1;
          const mapped = mapRedisError(error, describe());
          call.settle(write && mayHaveRun(error) ? lostReply(mapped) : mapped);
        },
      );
    });
  }

  /** Ends `call` (settled): its deadline no longer needs watching. */
  forget(call: SentCall<never>): void {
    this.#due.delete(call);
  }

  /**
   * `call` got no reply by its deadline. When no call got one since it was sent, the connection is
   * dropped (reconnect replaces it): its later replies can no longer be matched to their commands.
   */
  expired(call: SentCall<never>): void {
    if (this.#replies === call.repliesAtSend && this.#generation === call.generation) {
      this.#client.disconnect(true);
    }
  }

  /** Replies received so far, to tell whether any came after a given call was sent. */
  get replies(): number {
    return this.#replies;
  }

  get generation(): number {
    return this.#generation;
  }

  #whenReady(describe: Describe, deadline: Deadline, signal: AbortSignal | undefined): Promise<void> {
    if (this.#unreachable !== undefined) {
      return Promise.reject(
        new InfrastructureError("UNAVAILABLE", `${describe()} failed: Redis is unreachable (not sent)`, {
          cause: this.#unreachable.cause,
          retryable: true,
          details: this.#unreachable.details,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (error?: InfrastructureError) => {
        if (!this.#waiters.delete(waiter)) return;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter: Waiter = {
        ready: () => settle(),
        fail: (cause) =>
          settle(
            cause.code === "CLOSED"
              ? cause
              : new InfrastructureError("UNAVAILABLE", `${describe()} failed: ${cause.message}`, {
                  cause: cause.cause,
                  retryable: true,
                  details: cause.details,
                }),
          ),
      };
      const onAbort = () => settle(cancelledError(signal as AbortSignal, describe()));
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
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms` (the promise keeps running, its
 * late outcome ignored). For the worker's own calls, which run on BullMQ's connection.
 */
export function bounded<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      promise.catch(() => undefined);
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
