import { randomBytes } from "node:crypto";
import { closedError, validateCacheKey } from "@proj/ports";
import type { LoaderLease, LoaderLock } from "./bus.js";
import { CommandConnection, type RedisTarget } from "./redis-connection.js";
import { checkPositive } from "./redis-errors.js";

/** Options of `createRedisLoaderLock`. */
export type RedisLoaderLockOptions = RedisTarget & {
  /** Keeps the locks of one cache apart from another's: use the L2 namespace. Follows the key rule. */
  namespace: string;
  /** Deadline of each lock command (and the silence that replaces a connection). Default 2000. */
  commandTimeoutMs?: number;
};

/** Extends the lock only while the caller's token still holds it: the fencing check. */
const CONFIRM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface LockScripts {
  projLockConfirm(numberOfKeys: 1, key: string, token: string, ttlMs: number): Promise<number>;
  projLockRelease(numberOfKeys: 1, key: string, token: string): Promise<number>;
}

/**
 * `LoaderLock` over Redis: `SET <key> <random token> NX PX <ttl>` takes the lock, a script that
 * checks the token extends it (`confirm`, the fencing check) or deletes it (`release`). Lock keys are
 * `proj-lock:<namespace>:<key>`, with `%` and `:` of the namespace escaped as in `@proj/cache-redis`.
 */
export class RedisLoaderLock implements LoaderLock {
  readonly #connection: CommandConnection;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #scripts: LockScripts;
  #closed = false;

  constructor(options: RedisLoaderLockOptions) {
    validateCacheKey(options.namespace, "namespace");
    this.#timeoutMs = checkPositive(options.commandTimeoutMs ?? 2_000, "commandTimeoutMs");
    this.#prefix = `proj-lock:${options.namespace.replace(/[%:]/g, (c) => (c === "%" ? "%25" : "%3A"))}:`;
    this.#connection = new CommandConnection(options, `proj-lock:${options.namespace}`, this.#timeoutMs);
    this.#connection.client.defineCommand("projLockConfirm", { lua: CONFIRM });
    this.#connection.client.defineCommand("projLockRelease", { lua: RELEASE });
    this.#scripts = this.#connection.client as unknown as LockScripts;
  }

  async tryAcquire(key: string, ttlMs: number): Promise<LoaderLease | undefined> {
    if (this.#closed) throw closedError("Redis loader lock");
    validateCacheKey(key);
    const full = this.#prefix + key;
    const token = randomBytes(12).toString("base64url");
    const taken = await this.#connection.run(`lock of cache key "${key}"`, this.#timeoutMs, undefined, () =>
      this.#connection.client.set(full, token, "PX", ttlMs, "NX"),
    );
    if (taken !== "OK") return undefined;
    return {
      confirm: async (extendMs) =>
        (await this.#connection.run(`fencing check of cache key "${key}"`, this.#timeoutMs, undefined, () =>
          this.#scripts.projLockConfirm(1, full, token, extendMs),
        )) === 1,
      release: async () => {
        if (this.#closed) return;
        await this.#connection
          .run(`unlock of cache key "${key}"`, this.#timeoutMs, undefined, () =>
            this.#scripts.projLockRelease(1, full, token),
          )
          .catch(() => undefined);
      },
    };
  }

  /** Quits the connection (unless it is yours); locks still held expire by their TTL. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connection.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
