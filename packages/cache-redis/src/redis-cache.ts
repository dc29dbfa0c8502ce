import {
  abortable,
  type Cache,
  type CacheAddMembersOptions,
  type CacheCallOptions,
  type CacheCapabilities,
  type CacheEntry,
  type CacheGetOrSetOptions,
  type CacheLoader,
  type CacheSetOptions,
  type CacheStats,
  closedError,
  InfrastructureError,
  type JsonValue,
  validateCacheCallOptions,
  validateCacheEntries,
  validateCacheKey,
  validateCacheMembers,
  validateCacheTags,
} from "@proj/ports";
import { Redis, type RedisOptions } from "ioredis";
import { type Deadline, RedisCalls, reconnectDelay, startDeadline } from "./redis-calls.js";
import { fromJson, toStrictJson } from "./redis-json.js";
import {
  ADD_MEMBERS,
  DELETE_ENTRIES,
  DELETE_ENTRY,
  DELETE_TAG_BATCH,
  SET_ENTRIES,
  SET_ENTRY,
  SET_ENTRY_AND_PUBLISH,
} from "./tag-scripts.js";

/** The scripts of `tag-scripts.ts`, defined on the client (sent by SHA, loaded on `NOSCRIPT`). */
interface TagScripts {
  projCacheSet(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  projCacheSetPublish(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  projCacheSetMany(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  projCacheDelete(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>;
  projCacheDeleteMany(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>;
  projCacheDeleteTag(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<[number, number]>;
  projCacheAddMembers(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
}

/** A message `setAndPublish` publishes once the entry is written. */
export interface RedisPublication {
  /** The Redis pub/sub channel. */
  channel: string;
  message: string;
}

/** Turns values into the strings Redis stores, and back. */
export interface RedisCacheSerializer<V> {
  serialize(value: V): string;
  deserialize(text: string): V;
}

export interface RedisCacheOptions<V = JsonValue> {
  /**
   * This application's part of the keyspace: entries live under `<namespace>:<key>`, and `clear`
   * removes exactly those. Required, non-empty, well-formed Unicode. `%` and `:` in it are stored
   * as `%25` and `%3A`, so no namespace's keys fall under another's (`P` and `P:sub`).
   */
  namespace: string;
  /** `redis://[user:password@]host:port/db`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** ioredis options, applied over the adapter's defaults (see the README). */
  redis?: RedisOptions;
  /** TTL for entries stored without `ttlMs`. Absent: such entries do not expire. */
  defaultTtlMs?: number;
  /** Default: strict JSON, which refuses any value that would not come back equal (`-0` is kept). */
  serializer?: RedisCacheSerializer<V>;
  /**
   * Default deadline of a call on one key (`get`, `set`, `has`, `delete`, each command of
   * `getOrSet`), waiting for a connection included; also how long a connection may stay silent
   * while replies are due before it is replaced. Default 2000; `Infinity` for none.
   */
  commandTimeoutMs?: number;
  /** Default deadline of a whole `deletePrefix`, `clear` or `stats` (SCAN walks). Default 30000. */
  scanTimeoutMs?: number;
  /** Keys asked for per SCAN step, and so the most keys per UNLINK, in `deletePrefix` and `clear`. Default 500. */
  scanCount?: number;
  /** Told about connection-level errors, which ioredis reports outside any command. */
  onError?: (error: InfrastructureError) => void;
  /**
   * Reads (`GET`, `EXISTS`) issued in one event-loop turn go out in one socket write (ioredis
   * auto-pipelining, restricted to reads): fewer system calls under many concurrent reads, at the
   * cost of up to one event-loop turn of latency per read. Writes are always sent at once. Default
   * false.
   */
  pipelineReads?: boolean;
}

/** The commands `pipelineReads` leaves out of auto-pipelining: every write and walk. */
const NOT_PIPELINED = [
  "projCacheSet",
  "projCacheSetPublish",
  "projCacheDelete",
  "projCacheDeleteMany",
  "projCacheDeleteTag",
  "projCacheAddMembers",
  "unlink",
  "scan",
  "quit",
  "client",
];

const CAPABILITIES: CacheCapabilities = Object.freeze({
  shared: true,
  staleWhileRevalidate: false,
  tags: true,
  batchWrites: true,
  memberSets: true,
});
const WHAT = "Redis cache";

const JSON_SERIALIZER: RedisCacheSerializer<never> = {
  serialize: toStrictJson,
  deserialize: (text) => fromJson(text) as never,
};

interface Lookup<V> {
  value: V;
  hit: boolean;
}

interface Flight<V> {
  promise: Promise<Lookup<V>>;
  /** False once a write overtook the load: its value must not be stored. */
  current: boolean;
  /** The tags the loaded value is stored with; a `deleteByTag` of one of them overtakes the load. */
  tags: readonly string[] | undefined;
}

/**
 * `Cache` over one Redis connection. Values are serialised (JSON by default) under
 * `<namespace>:<key>`; TTLs are Redis' own (`SET … PX`), so every process sees the same expiry.
 */
export class RedisCache<V = JsonValue> implements Cache<V> {
  readonly capabilities: CacheCapabilities = CAPABILITIES;
  /** The namespace this cache owns. */
  readonly namespace: string;
  /** The underlying ioredis client, for what the port does not cover. Closing the cache quits it. */
  readonly client: Redis;

  readonly #prefix: string;
  /** Prefix of the tag member sets, `<encoded namespace>%T:` (see `tag-scripts.ts`). */
  readonly #tagPrefix: string;
  /** Prefix of the entries' tag records, `<encoded namespace>%E:`. */
  readonly #recordPrefix: string;
  /** Prefix of the member sets of `addMembers`, `<encoded namespace>%S:`. */
  readonly #memberSetPrefix: string;
  /**
   * SCAN pattern matching the namespace's entries, tag sets, records and member sets (and keys of
   * other namespaces that start alike, which `clear` filters out).
   */
  readonly #everythingPattern: string;
  readonly #scripts: TagScripts;
  readonly #defaultTtlMs: number;
  readonly #serializer: RedisCacheSerializer<V>;
  readonly #scanCount: number;
  readonly #flights = new Map<string, Flight<V>>();
  readonly #lifetime = new AbortController();
  readonly #calls: RedisCalls;
  readonly #commandTimeoutMs: number;
  readonly #scanTimeoutMs: number;
  #closing: Promise<void> | undefined;
  #hits = 0;
  #misses = 0;

  constructor(options: RedisCacheOptions<V>) {
    const { namespace } = options;
    validateCacheKey(namespace, "namespace");
    this.namespace = namespace;
    const encoded = encodeNamespace(namespace);
    this.#prefix = `${encoded}:`;
    this.#tagPrefix = `${encoded}%T:`;
    this.#recordPrefix = `${encoded}%E:`;
    this.#memberSetPrefix = `${encoded}%S:`;
    this.#everythingPattern = `${escapeGlob(encoded)}[:%]*`;
    this.#defaultTtlMs =
      options.defaultTtlMs === undefined ? 0 : checkTtl(options.defaultTtlMs, "defaultTtlMs");
    this.#serializer = options.serializer ?? (JSON_SERIALIZER as RedisCacheSerializer<V>);
    this.#scanCount = options.scanCount ?? 500;
    if (!Number.isSafeInteger(this.#scanCount) || this.#scanCount < 1) {
      throw invalid(`scanCount must be a positive integer, got ${String(options.scanCount)}`);
    }
    this.#commandTimeoutMs = checkTimeout(options.commandTimeoutMs ?? 2_000, "commandTimeoutMs");
    this.#scanTimeoutMs = checkTimeout(options.scanTimeoutMs ?? 30_000, "scanTimeoutMs");
    const silenceMs = Number.isFinite(this.#commandTimeoutMs) ? this.#commandTimeoutMs : undefined;
    const defaults: RedisOptions = {
      connectionName: connectionName(namespace),
      connectTimeout: Math.max(silenceMs ?? 10_000, 1_000),
      // A connection that leaves due replies unanswered this long is destroyed, and reconnect
      // replaces it: on a half-open connection (peer gone without FIN or RST) nothing else would.
      socketTimeout: silenceMs,
      // Commands are written only on a ready connection (RedisCalls waits for one within the call's
      // deadline) and never resent on a new one: a queued or resent SET could land after its caller
      // was told it failed, and after a newer write or delete.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => reconnectDelay(attempt),
      ...(options.pipelineReads === true
        ? { enableAutoPipelining: true, autoPipeliningIgnoredCommands: NOT_PIPELINED }
        : {}),
    };
    this.client = new Redis(options.url ?? "redis://127.0.0.1:6379", { ...defaults, ...options.redis });
    this.#calls = new RedisCalls(this.client, options.onError);
    this.client.defineCommand("projCacheSet", { lua: SET_ENTRY });
    this.client.defineCommand("projCacheSetPublish", { lua: SET_ENTRY_AND_PUBLISH });
    this.client.defineCommand("projCacheSetMany", { lua: SET_ENTRIES });
    this.client.defineCommand("projCacheDelete", { lua: DELETE_ENTRY });
    this.client.defineCommand("projCacheDeleteMany", { lua: DELETE_ENTRIES });
    this.client.defineCommand("projCacheDeleteTag", { lua: DELETE_TAG_BATCH });
    this.client.defineCommand("projCacheAddMembers", { lua: ADD_MEMBERS });
    this.#scripts = this.client as unknown as TagScripts;
  }

  async get(key: string, options?: CacheCallOptions): Promise<V | undefined> {
    this.#ensureOpen();
    const full = this.#fullKey(key);
    const text = await this.#keyCommand(
      "GET",
      key,
      false,
      this.#deadline(options, "GET", key),
      options?.signal,
      () => this.client.get(full),
    );
    if (text === null) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return this.#decode(text, key);
  }

  async set(key: string, value: V, options?: CacheSetOptions): Promise<void> {
    this.#ensureOpen();
    const full = this.#fullKey(key);
    if (value === undefined) throw invalid(`cannot cache undefined under key "${key}"`);
    const ttlMs = options?.ttlMs === undefined ? this.#defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const tags = options?.tags === undefined ? undefined : validateCacheTags(options.tags);
    const deadline = this.#deadline(options, "SET", key);
    const text = this.#encode(value, key);
    this.#overtakeFlight(key);
    await this.#write(full, text, ttlMs, key, tags, deadline, options?.signal);
  }

  /**
   * `set`, then PUBLISH `publication` on this cache's Redis, in the same script: a subscriber gets
   * the message only once the entry is written, never when the write failed, and both cost one
   * round trip (how a tiered cache's invalidation can ride on its L2 write). Fails as `set` does.
   */
  async setAndPublish(
    key: string,
    value: V,
    publication: RedisPublication,
    options?: CacheSetOptions,
  ): Promise<void> {
    this.#ensureOpen();
    const full = this.#fullKey(key);
    if (value === undefined) throw invalid(`cannot cache undefined under key "${key}"`);
    if (typeof publication?.channel !== "string" || typeof publication.message !== "string") {
      throw invalid(`setAndPublish of cache key "${key}" needs a string channel and message`);
    }
    const ttlMs = options?.ttlMs === undefined ? this.#defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const tags = options?.tags === undefined ? undefined : validateCacheTags(options.tags);
    const deadline = this.#deadline(options, "SET", key);
    const text = this.#encode(value, key);
    this.#overtakeFlight(key);
    await this.#write(full, text, ttlMs, key, tags, deadline, options?.signal, publication);
  }

  /**
   * Every entry as `set` writes it, in one script: one round trip, and atomic on the server (the
   * port promises less: a failed call may have written some). Values are encoded, and every entry
   * checked, before anything is sent.
   */
  async setMany(entries: readonly CacheEntry<V>[], options?: CacheCallOptions): Promise<void> {
    this.#ensureOpen();
    const deadline =
      options === undefined
        ? startDeadline(this.#commandTimeoutMs)
        : startDeadline(validateCacheCallOptions(options, this.#commandTimeoutMs, "setMany"));
    const valid = validateCacheEntries<V>(entries);
    if (valid.length === 0) return;
    const keys: string[] = [];
    const args: Array<string | number> = [this.#tagPrefix, this.#recordPrefix];
    for (const { key, value, ttlMs, tags } of valid) {
      keys.push(this.#prefix + key, this.#recordPrefix + key);
      args.push(this.#encode(value, key), ttlMs ?? this.#defaultTtlMs, key, tags?.length ?? 0);
      if (tags !== undefined) {
        for (const tag of tags) {
          keys.push(this.#tagPrefix + tag);
          args.push(tag);
        }
      }
    }
    for (const { key } of valid) this.#overtakeFlight(key);
    await this.#calls.run(
      () =>
        valid.length === 1 ? `SET of cache key "${valid[0]?.key}"` : `SET of ${valid.length} cache keys`,
      true,
      deadline,
      options?.signal,
      () => this.#scripts.projCacheSetMany(keys.length, ...keys, ...args),
    );
  }

  /**
   * SADD of the members, then the set's TTL (PEXPIRE, or PERSIST for none), in one script under
   * `<encoded namespace>%S:<key>`: one round trip, atomic on the server. Every argument is checked
   * before anything is sent; no members sends nothing. A reply lost after sending is
   * `TIMEOUT`/`UNAVAILABLE` with `details.outcome: "unknown"`, like `set`.
   */
  async addMembers(key: string, members: readonly string[], options?: CacheAddMembersOptions): Promise<void> {
    this.#ensureOpen();
    validateCacheKey(key);
    const ttlMs = options?.ttlMs === undefined ? this.#defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const deadline = this.#deadline(options, "SADD", key);
    const valid = validateCacheMembers(members);
    if (valid.length === 0) return;
    const full = this.#memberSetPrefix + key;
    await this.#keyCommand("SADD", key, true, deadline, options?.signal, () =>
      this.#scripts.projCacheAddMembers(1, full, ttlMs, ...valid),
    );
  }

  /** SISMEMBER on `<encoded namespace>%S:<key>`: an absent or expired set holds nothing. */
  async hasMember(key: string, member: string, options?: CacheCallOptions): Promise<boolean> {
    this.#ensureOpen();
    validateCacheKey(key);
    validateCacheKey(member, "member");
    const full = this.#memberSetPrefix + key;
    const found = await this.#keyCommand(
      "SISMEMBER",
      key,
      false,
      this.#deadline(options, "SISMEMBER", key),
      options?.signal,
      () => this.client.sismember(full, member),
    );
    return found === 1;
  }

  async has(key: string, options?: CacheCallOptions): Promise<boolean> {
    this.#ensureOpen();
    const full = this.#fullKey(key);
    const found = await this.#keyCommand(
      "EXISTS",
      key,
      false,
      this.#deadline(options, "EXISTS", key),
      options?.signal,
      () => this.client.exists(full),
    );
    return found === 1;
  }

  async delete(key: string, options?: CacheCallOptions): Promise<boolean> {
    this.#ensureOpen();
    const full = this.#fullKey(key);
    const deadline = this.#deadline(options, "UNLINK", key);
    this.#overtakeFlight(key);
    const removed = await this.#keyCommand("UNLINK", key, true, deadline, options?.signal, () =>
      this.#scripts.projCacheDelete(2, full, this.#recordPrefix + key, key, this.#tagPrefix),
    );
    return removed === 1;
  }

  async deletePrefix(prefix: string, options?: CacheCallOptions): Promise<number> {
    this.#ensureOpen();
    if (typeof prefix !== "string" || prefix === "") {
      throw invalid("deletePrefix needs a non-empty prefix (use clear to remove everything)");
    }
    validateCacheKey(prefix, "prefix");
    const deadline = this.#walkDeadline(options, `deletePrefix "${prefix}"`);
    for (const [key, flight] of this.#flights) {
      if (key.startsWith(prefix)) {
        flight.current = false;
        this.#flights.delete(key);
      }
    }
    const what = `deletePrefix "${prefix}"`;
    let removed = 0;
    await this.#scan(
      `${escapeGlob(this.#prefix + prefix)}*`,
      what,
      deadline,
      options?.signal,
      async (keys) => {
        removed += await this.#deleteEntries(keys, what, deadline, options?.signal);
      },
    );
    return removed;
  }

  /**
   * Removes the entries tagged `tag` in batches of `scanCount` (each batch one atomic script), so
   * Redis stays responsive; an entry tagged while the walk runs may survive it.
   */
  async deleteByTag(tag: string, options?: CacheCallOptions): Promise<number> {
    this.#ensureOpen();
    validateCacheKey(tag, "tag");
    const what = `deleteByTag "${tag}"`;
    const deadline = this.#walkDeadline(options, what);
    for (const [key, flight] of this.#flights) {
      if (flight.tags?.includes(tag)) {
        flight.current = false;
        this.#flights.delete(key);
      }
    }
    const set = this.#tagPrefix + tag;
    let removed = 0;
    let popped: number;
    do {
      const [count, unlinked] = await this.#calls.run(
        () => what,
        true,
        deadline,
        options?.signal,
        () =>
          this.#scripts.projCacheDeleteTag(
            1,
            set,
            this.#prefix,
            this.#recordPrefix,
            this.#tagPrefix,
            tag,
            this.#scanCount,
          ),
      );
      popped = count;
      removed += unlinked;
    } while (popped >= this.#scanCount);
    return removed;
  }

  async clear(options?: CacheCallOptions): Promise<void> {
    this.#ensureOpen();
    const what = `clear of namespace "${this.namespace}"`;
    const deadline = this.#walkDeadline(options, what);
    this.#dropFlights();
    // One walk over entries, tag sets, tag records and member sets; other namespaces' keys can
    // match the pattern (`N%3Asub:…` starts with `N%`), so each key is checked against the prefixes.
    await this.#scan(this.#everythingPattern, what, deadline, options?.signal, async (keys) => {
      const entries = keys.filter((key) => key.startsWith(this.#prefix));
      const aux = keys.filter(
        (key) =>
          key.startsWith(this.#tagPrefix) ||
          key.startsWith(this.#recordPrefix) ||
          key.startsWith(this.#memberSetPrefix),
      );
      if (entries.length > 0) await this.#deleteEntries(entries, what, deadline, options?.signal);
      if (aux.length > 0) {
        await this.#calls.run(
          () => what,
          true,
          deadline,
          options?.signal,
          () => this.client.unlink(...aux),
        );
      }
    });
  }

  /**
   * Hits and misses of this instance (other processes keep their own); evictions are always 0,
   * since Redis does not say which namespace its `maxmemory` evictions hit; size counts the
   * namespace's keys with SCAN, which walks the whole database.
   */
  async stats(options?: CacheCallOptions): Promise<CacheStats> {
    this.#ensureOpen();
    const deadline = this.#walkDeadline(options, `stats of namespace "${this.namespace}"`);
    const seen = new Set<string>();
    const what = `stats of namespace "${this.namespace}"`;
    await this.#scan(`${escapeGlob(this.#prefix)}*`, what, deadline, options?.signal, async (keys) => {
      for (const key of keys) seen.add(key);
    });
    return { hits: this.#hits, misses: this.#misses, evictions: 0, size: seen.size };
  }

  /**
   * Concurrent callers for one key share the GET as well as the loader, so a value stored by the
   * loader between one caller's GET and another's cannot trigger a second load.
   * `staleWhileRevalidateMs` is ignored (`capabilities.staleWhileRevalidate` is false).
   */
  async getOrSet(key: string, loader: CacheLoader<V>, options?: CacheGetOrSetOptions): Promise<V> {
    this.#ensureOpen();
    const full = this.#fullKey(key);
    const ttlMs = options?.ttlMs === undefined ? this.#defaultTtlMs : checkTtl(options.ttlMs, "ttlMs");
    const tags = options?.tags === undefined ? undefined : validateCacheTags(options.tags);
    const timeoutMs =
      options === undefined
        ? this.#commandTimeoutMs
        : validateCacheCallOptions(options, this.#commandTimeoutMs, `getOrSet of cache key "${key}"`);
    const signal = options?.signal;
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      const started: Flight<V> = { promise: Promise.resolve() as Promise<never>, current: true, tags };
      started.promise = this.#lookupOrLoad(started, key, full, loader, ttlMs, timeoutMs);
      this.#flights.set(key, started);
      const settle = () => {
        if (this.#flights.get(key) === started) this.#flights.delete(key);
      };
      // Handled here so that a flight every waiter gave up on never surfaces as an unhandled rejection.
      started.promise.then(settle, settle);
      flight = started;
    }
    const { value, hit } = await abortable(flight.promise, signal, `getOrSet of cache key "${key}"`);
    if (hit) this.#hits++;
    else this.#misses++;
    return value;
  }

  /** Quits the connection (waiting for replies to commands already sent) and fires loaders' signals. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#calls.abandonWaiters(closedError(WHAT));
      this.#dropFlights();
      this.#lifetime.abort(closedError(WHAT));
      this.#closing = this.#quit();
    }
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #quit(): Promise<void> {
    const status = this.client.status;
    if (status === "end") return;
    // Between reconnect attempts there is no socket left to close, and no "end" event to wait for.
    if (status === "reconnecting" || status === "close") {
      this.client.disconnect();
      return;
    }
    // Resolving only once the socket is gone means "closed" holds when close() returns.
    const ended = new Promise<void>((resolve) => this.client.once("end", () => resolve()));
    if (status === "ready" && this.client.stream.writable) {
      // QUIT lets the replies to commands already sent arrive first; a silent connection would
      // never answer it, so it gets the command deadline like any other command.
      await this.#calls
        .run(
          () => "QUIT",
          false,
          startDeadline(this.#commandTimeoutMs),
          undefined,
          () => this.client.quit(),
        )
        .catch(() => undefined);
    }
    if (this.client.status !== "end") {
      this.client.disconnect();
      // disconnect() half-closes; on a dead path the peer never completes the close.
      this.client.stream?.destroy();
    }
    await ended;
  }

  async #lookupOrLoad(
    flight: Flight<V>,
    key: string,
    full: string,
    loader: CacheLoader<V>,
    ttlMs: number,
    timeoutMs: number,
  ): Promise<Lookup<V>> {
    const text = await this.#keyCommand("GET", key, false, startDeadline(timeoutMs), undefined, () =>
      this.client.get(full),
    );
    if (text !== null) return { value: this.#decode(text, key), hit: true };
    const value = await loader(key, this.#lifetime.signal);
    if (value === undefined) throw invalid(`the loader for cache key "${key}" returned undefined`);
    const encoded = this.#encode(value, key);
    if (flight.current && this.#closing === undefined) {
      await this.#write(full, encoded, ttlMs, key, flight.tags, startDeadline(timeoutMs), undefined);
    }
    return { value, hit: false };
  }

  /**
   * Writes the entry, its tag record and its tag memberships in one script (the old tags the key
   * no longer carries are left), so no reader sees an entry and tags that disagree; then publishes
   * `publication`, when given, in the same script.
   */
  async #write(
    full: string,
    text: string,
    ttlMs: number,
    key: string,
    tags: readonly string[] | undefined,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    publication?: RedisPublication,
  ): Promise<void> {
    const record = this.#recordPrefix + key;
    const tagKeys = tags === undefined ? [] : tags.map((tag) => this.#tagPrefix + tag);
    const tagArgs = tags ?? [];
    const keys = [full, record, ...tagKeys];
    const args = [text, ttlMs, key, this.#tagPrefix, this.#recordPrefix];
    await this.#keyCommand("SET", key, true, deadline, signal, () =>
      publication === undefined
        ? this.#scripts.projCacheSet(keys.length, ...keys, ...args, ...tagArgs)
        : this.#scripts.projCacheSetPublish(
            keys.length,
            ...keys,
            ...args,
            publication.channel,
            publication.message,
            ...tagArgs,
          ),
    );
  }

  /** Removes one SCAN page of entries with their tag records and memberships. */
  #deleteEntries(
    keys: string[],
    what: string,
    deadline: Deadline,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    // SCAN may repeat a key; UNLINK counts only what it removed, so the total stays exact.
    return this.#calls.run(
      () => what,
      true,
      deadline,
      signal,
      () =>
        this.#scripts.projCacheDeleteMany(
          keys.length,
          ...keys,
          this.#prefix,
          this.#recordPrefix,
          this.#tagPrefix,
        ),
    );
  }

  /** Walks every key matching the SCAN `pattern` (never KEYS, which blocks the server). */
  async #scan(
    pattern: string,
    what: string,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    onPage: (keys: string[]) => Promise<void>,
  ): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.#calls.run(
        () => what,
        false,
        deadline,
        signal,
        () => this.client.scan(cursor, "MATCH", pattern, "COUNT", this.#scanCount),
      );
      cursor = next;
      if (keys.length > 0) await onPage(keys);
    } while (cursor !== "0");
  }

  /** The per-key path: the error message is only built on failure. */
  #keyCommand<T>(
    command: string,
    key: string,
    write: boolean,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    return this.#calls.run(() => `${command} of cache key "${key}"`, write, deadline, signal, send);
  }

  /** The deadline of a call on one key; the message is built only when the call passes options. */
  #deadline(options: CacheCallOptions | undefined, command: string, key: string): Deadline {
    if (options === undefined) return startDeadline(this.#commandTimeoutMs);
    return startDeadline(
      validateCacheCallOptions(options, this.#commandTimeoutMs, `${command} of cache key "${key}"`),
    );
  }

  #walkDeadline(options: CacheCallOptions | undefined, what: string): Deadline {
    if (options === undefined) return startDeadline(this.#scanTimeoutMs);
    return startDeadline(validateCacheCallOptions(options, this.#scanTimeoutMs, what));
  }

  #encode(value: V, key: string): string {
    let text: unknown;
    try {
      text = this.#serializer.serialize(value);
    } catch (error) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `the value for cache key "${key}" cannot be serialised`,
        {
          cause: error,
          retryable: false,
        },
      );
    }
    if (typeof text !== "string") {
      throw invalid(`the serializer returned ${typeof text} for cache key "${key}"; expected a string`);
    }
    return text;
  }

  #decode(text: string, key: string): V {
    try {
      return this.#serializer.deserialize(text);
    } catch (error) {
      throw new InfrastructureError(
        "INTERNAL",
        `the stored value of cache key "${key}" cannot be deserialised`,
        {
          cause: error,
          retryable: false,
        },
      );
    }
  }

  #fullKey(key: string): string {
    validateCacheKey(key);
    return this.#prefix + key;
  }

  #ensureOpen(): void {
    if (this.#closing !== undefined) throw closedError(WHAT);
  }

  #overtakeFlight(key: string): void {
    const flight = this.#flights.get(key);
    if (flight === undefined) return;
    flight.current = false;
    this.#flights.delete(key);
  }

  #dropFlights(): void {
    for (const flight of this.#flights.values()) flight.current = false;
    this.#flights.clear();
  }
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function checkTimeout(timeoutMs: number, name: string): number {
  if (timeoutMs === Number.POSITIVE_INFINITY) return timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw invalid(`${name} must be a positive integer of milliseconds or Infinity, got ${String(timeoutMs)}`);
  }
  return timeoutMs;
}

function checkTtl(ttlMs: number, name: string): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw invalid(`${name} must be a positive integer of milliseconds, got ${String(ttlMs)}`);
  }
  return ttlMs;
}

/**
 * Escapes the separator (and the escape character itself), so the key prefix `<encoded>:` of one
 * namespace can never begin the keys of another: the first unescaped `:` ends the namespace.
 */
function encodeNamespace(namespace: string): string {
  return namespace.replace(/[%:]/g, (character) => (character === "%" ? "%25" : "%3A"));
}

/** Makes `text` match itself literally in a Redis glob pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** CLIENT SETNAME refuses spaces and newlines; the name only has to identify the connection. */
function connectionName(namespace: string): string {
  return `proj-cache:${namespace.replace(/[^\w:.-]/g, "_")}`;
}
