import { cancelledError, closedError, InfrastructureError } from "@proj/ports";
import { Redis, type RedisOptions } from "ioredis";
import { mapRedisError, reconnectDelay } from "./redis-errors.js";

/** Where a bus or lock finds Redis: a URL (it opens and closes its connections) or a client of yours. */
export type RedisTarget = { url?: string; client?: undefined } | { client: Redis; url?: undefined };

/**
 * ioredis options for the connections this package opens: commands are written only on a ready
 * connection and never resent on another one, a connection silent for `silenceMs` while replies are
 * due is destroyed and replaced, and reconnects back off with jitter.
 */
export function connectionOptions(name: string, silenceMs: number): RedisOptions {
  return {
    connectionName: name.replace(/[^\w:.-]/g, "_"),
    connectTimeout: Math.max(silenceMs, 1_000),
    socketTimeout: silenceMs,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => reconnectDelay(attempt),
  };
}

/**
 * Runs commands on one ioredis connection under a deadline: waits for a ready connection within
 * it (failing at once with `UNAVAILABLE` while the last connection attempt was refused), then
 * waits for the reply within what is left of it (`TIMEOUT`).
 */
export class CommandConnection {
  readonly client: Redis;
  readonly #owned: boolean;
  readonly #what: string;
  #unreachable: InfrastructureError | undefined;
  readonly #waiters = new Set<(error?: InfrastructureError) => void>();
  #closing: Promise<void> | undefined;

  constructor(target: RedisTarget, name: string, silenceMs: number) {
    this.#what = name;
    if (target.client !== undefined) {
      this.client = target.client;
      this.#owned = false;
    } else {
      this.client = new Redis(target.url ?? "redis://127.0.0.1:6379", connectionOptions(name, silenceMs));
      this.#owned = true;
    }
    this.client.on("error", (error: unknown) => {
      const mapped = mapRedisError(error, `the Redis connection of ${name}`);
      if (mapped.code === "UNAVAILABLE" && this.client.status !== "ready") {
        this.#unreachable = mapped;
        for (const waiter of [...this.#waiters]) waiter(mapped);
      }
    });
    this.client.on("ready", () => {
      this.#unreachable = undefined;
      for (const waiter of [...this.#waiters]) waiter();
    });
  }

  get ready(): boolean {
    return this.client.status === "ready" && this.client.stream?.writable === true;
  }

  async run<T>(
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    if (this.#closing !== undefined) throw closedError(this.#what);
    if (signal?.aborted) throw cancelledError(signal, what);
    const deadline = performance.now() + timeoutMs;
    if (!this.ready) await this.#whenReady(what, deadline, timeoutMs, signal);
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let done = false;
      const settle = (error: unknown, value?: T) => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(value as T);
        else reject(error);
      };
      const onAbort = () => settle(cancelledError(signal!, what));
      const left = deadline - performance.now();
      if (left !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(
          () => settle(new InfrastructureError("TIMEOUT", `${what} got no reply within ${timeoutMs} ms`)),
          Math.max(0, left),
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      send().then(
        (value) => settle(undefined, value),
        (error: unknown) => settle(mapRedisError(error, what)),
      );
    });
  }

  #whenReady(
    what: string,
    deadline: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (this.#unreachable !== undefined) {
      return Promise.reject(
        new InfrastructureError("UNAVAILABLE", `${what} failed: Redis is unreachable (not sent)`, {
          cause: this.#unreachable,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = (error?: InfrastructureError) => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else if (error.code === "CLOSED") reject(error);
        else
          reject(
            new InfrastructureError("UNAVAILABLE", `${what} failed: Redis is unreachable (not sent)`, {
              cause: error,
            }),
          );
      };
      const onAbort = () => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) clearTimeout(timer);
        reject(cancelledError(signal!, what));
      };
      this.#waiters.add(waiter);
      const left = deadline - performance.now();
      if (left !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(
          () => {
            this.#waiters.delete(waiter);
            signal?.removeEventListener("abort", onAbort);
            reject(
              new InfrastructureError(
                "TIMEOUT",
                `${what} found no ready connection to Redis within ${timeoutMs} ms (not sent)`,
              ),
            );
          },
          Math.max(0, left),
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Quits the connection when this object opened it; a client of yours is left open. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      for (const waiter of [...this.#waiters]) waiter(closedError(this.#what));
      this.#closing = this.#owned ? quit(this.client) : Promise.resolve();
    }
    return this.#closing;
  }
}

/** Ends a connection: `QUIT` when it is ready (bounded), else at once; resolves once it is gone. */
export async function quit(client: Redis): Promise<void> {
  if (client.status === "end") return;
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
  const timer = setTimeout(() => {
    client.disconnect();
    client.stream?.destroy();
  }, 1_000);
  await client.quit().catch(() => undefined);
  if ((client.status as string) !== "end") {
    client.disconnect();
    client.stream?.destroy();
  }
  await ended;
  clearTimeout(timer);
}
