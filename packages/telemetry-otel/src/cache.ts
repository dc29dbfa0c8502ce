import { type Attributes, type Span, SpanKind } from "@opentelemetry/api";
import type {
  Cache,
  CacheAddMembersOptions,
  CacheCallOptions,
  CacheCapabilities,
  CacheEntry,
  CacheGetOrSetOptions,
  CacheLoader,
  CacheSetOptions,
  CacheStats,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { DB_DURATION, dbOperation } from "./db.js";
import { type Call, type Gate, type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

/** `db.system.name` of a cache when the `attributes` option names none. */
export const DEFAULT_CACHE_SYSTEM = "other_cache";

const HIT: Attributes = { [ATTR.cacheHit]: true };
const MISS: Attributes = { [ATTR.cacheHit]: false };

function markHit(span: Span, hit: boolean, call: Call): void {
  span.setAttribute(ATTR.cacheHit, hit);
  call.metricAttributes = hit ? HIT : MISS;
}

const onGet = (span: Span, value: unknown, call: Call) => markHit(span, value !== undefined, call);

/**
 * The entry count of a `setMany` (the member count of an `addMembers`, duplicates included), as the
 * conventions' `db.operation.batch.size`: only for two or more (a call of one is no batch), and
 * never on metric points (unbounded values).
 */
function batchAttributes(items: unknown): Attributes | undefined {
  return Array.isArray(items) && items.length >= 2
    ? { [ATTR.dbOperationBatchSize]: items.length }
    : undefined;
}

type CacheMethod =
  | "get"
  | "set"
  | "setMany"
  | "has"
  | "addMembers"
  | "hasMember"
  | "delete"
  | "deletePrefix"
  | "deleteByTag"
  | "clear"
  | "getOrSet"
  | "stats";

/**
 * Traces and measures every call of a `Cache`: one `CLIENT` span per call named by its
 * `db.operation.name` (`get`, `getOrSet`…), `proj.cache.hit` on `get` and `getOrSet`, the loader
 * of a `getOrSet` miss running inside the span (so its own calls nest under it),
 * `db.operation.batch.size` on a `setMany` of two entries or more and on an `addMembers` of two
 * members or more, and `db.client.operation.duration` with `error.type` on failure. Keys, values and
 * members are never recorded. `setMany` is offered exactly when `cache` offers it
 * (`capabilities.batchWrites`); `addMembers` and `hasMember` exactly when `cache` offers them
 * (`capabilities.memberSets`).
 */
export function instrumentCache<V>(cache: Cache<V>, options: InstrumentOptions = {}): Cache<V> {
  return new InstrumentedCache(cache, new Telemetry(options, [DB_DURATION]));
}

class InstrumentedCache<V> implements Cache<V> {
  readonly #inner: Cache<V>;
  readonly #t: Telemetry;
  readonly #ops: Record<CacheMethod, Operation>;
  // The hit path is a few hundred nanoseconds: the no-SDK check reads the gate from this object's
  // own fields rather than through the telemetry object (one load less, measured in the bench).
  readonly #gate: Gate;
  readonly #off: unknown;
  /** Present exactly when the adapter's is: the port ties it to `capabilities.batchWrites`. */
  declare readonly setMany?: (entries: readonly CacheEntry<V>[], options?: CacheCallOptions) => Promise<void>;
  /** Present exactly when the adapter's is: the port ties it to `capabilities.memberSets`. */
  declare readonly addMembers?: (
    key: string,
    members: readonly string[],
    options?: CacheAddMembersOptions,
  ) => Promise<void>;
  /** Present exactly when the adapter's is: the port ties it to `capabilities.memberSets`. */
  declare readonly hasMember?: (key: string, member: string, options?: CacheCallOptions) => Promise<boolean>;

  constructor(inner: Cache<V>, telemetry: Telemetry) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#gate = telemetry.gate;
    this.#off = telemetry.off;
    const op = (method: CacheMethod) =>
      dbOperation(telemetry, { port: "Cache", method, system: DEFAULT_CACHE_SYSTEM, kind: SpanKind.CLIENT });
    this.#ops = {
      get: op("get"),
      set: op("set"),
      setMany: op("setMany"),
      has: op("has"),
      addMembers: op("addMembers"),
      hasMember: op("hasMember"),
      delete: op("delete"),
      deletePrefix: op("deletePrefix"),
      deleteByTag: op("deleteByTag"),
      clear: op("clear"),
      getOrSet: op("getOrSet"),
      stats: op("stats"),
    };
    const setMany = inner.setMany;
    if (typeof setMany === "function") {
      this.setMany = (entries, options) => {
        if (this.#t.passthrough()) return setMany.call(inner, entries, options);
        return this.#t.run(
          this.#ops.setMany,
          () => setMany.call(inner, entries, options),
          undefined,
          undefined,
          batchAttributes(entries),
        );
      };
    }
    const { addMembers, hasMember } = inner;
    if (typeof addMembers === "function" && typeof hasMember === "function") {
      this.addMembers = (key, members, options) => {
        if (this.#t.passthrough()) return addMembers.call(inner, key, members, options);
        return this.#t.run(
          this.#ops.addMembers,
          () => addMembers.call(inner, key, members, options),
          undefined,
          undefined,
          batchAttributes(members),
        );
      };
      this.hasMember = (key, member, options) => {
        if (this.#t.passthrough()) return hasMember.call(inner, key, member, options);
        return this.#t.run(this.#ops.hasMember, () => hasMember.call(inner, key, member, options));
      };
    }
  }

  get capabilities(): CacheCapabilities {
    return this.#inner.capabilities;
  }

  get(key: string, options?: CacheCallOptions): Promise<V | undefined> {
    if (this.#gate.getDelegate() === this.#off) return this.#inner.get(key, options);
    return this.#t.run(this.#ops.get, () => this.#inner.get(key, options), onGet);
  }

  set(key: string, value: V, options?: CacheSetOptions): Promise<void> {
    if (this.#t.passthrough()) return this.#inner.set(key, value, options);
    return this.#t.run(this.#ops.set, () => this.#inner.set(key, value, options));
  }

  has(key: string, options?: CacheCallOptions): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.has(key, options);
    return this.#t.run(this.#ops.has, () => this.#inner.has(key, options));
  }

  delete(key: string, options?: CacheCallOptions): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.delete(key, options);
    return this.#t.run(this.#ops.delete, () => this.#inner.delete(key, options));
  }

  deletePrefix(prefix: string, options?: CacheCallOptions): Promise<number> {
    if (this.#t.passthrough()) return this.#inner.deletePrefix(prefix, options);
    return this.#t.run(this.#ops.deletePrefix, () => this.#inner.deletePrefix(prefix, options));
  }

  deleteByTag(tag: string, options?: CacheCallOptions): Promise<number> {
    if (this.#t.passthrough()) return this.#inner.deleteByTag(tag, options);
    return this.#t.run(this.#ops.deleteByTag, () => this.#inner.deleteByTag(tag, options));
  }

  clear(options?: CacheCallOptions): Promise<void> {
    if (this.#t.passthrough()) return this.#inner.clear(options);
    return this.#t.run(this.#ops.clear, () => this.#inner.clear(options));
  }

  getOrSet(key: string, loader: CacheLoader<V>, options?: CacheGetOrSetOptions): Promise<V> {
    if (this.#t.passthrough()) return this.#inner.getOrSet(key, loader, options);
    let loaded = false;
    // Only a function is wrapped: anything else reaches the adapter as given, to be refused there.
    const counted: CacheLoader<V> =
      typeof loader === "function"
        ? (loadKey, signal) => {
            loaded = true;
            return loader(loadKey, signal);
          }
        : loader;
    return this.#t.run(
      this.#ops.getOrSet,
      () => this.#inner.getOrSet(key, counted, options),
      (span, _value, call) => markHit(span, !loaded, call),
    );
  }

  stats(options?: CacheCallOptions): Promise<CacheStats> {
    if (this.#t.passthrough()) return this.#inner.stats(options);
    return this.#t.run(this.#ops.stats, () => this.#inner.stats(options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
