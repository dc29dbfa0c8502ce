import type { Cache, CacheEntry } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { intercept } from "../intercept.js";

/**
 * A `Cache` with faults injected by `chaos` (or a chaos made from these options). Keys: the entry's
 * key (`setMany`: every entry's key, `addMembers` and `hasMember`: the member set's key,
 * `deletePrefix`: the prefix, `deleteByTag`: the tag); `clear` and `stats` have none. `setMany` is
 * offered exactly when `cache` offers it (`capabilities.batchWrites`), as a fault site of its own; a
 * fault of its `"after"` phase comes once every entry was written. `addMembers` and `hasMember` are
 * offered exactly when `cache` offers them (`capabilities.memberSets`), each a fault site of its
 * own; a fault of `addMembers`' `"after"` phase comes once the members were added.
 */
export function withChaosCache<V = unknown>(cache: Cache<V>, chaos: Chaos | ChaosOptions): Cache<V> {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("cache", operation);
  const get = site("get");
  const set = site("set");
  const has = site("has");
  const del = site("delete");
  const deletePrefix = site("deletePrefix");
  const deleteByTag = site("deleteByTag");
  const clear = site("clear");
  const getOrSet = site("getOrSet");
  const stats = site("stats");
  const setMany = cache.setMany;
  const batch: Pick<Cache<V>, "setMany"> = {};
  if (typeof setMany === "function") {
    const many = site("setMany");
    batch.setMany = (entries, options) =>
      intercept(
        many,
        () => (Array.isArray(entries) ? keysOf(entries) : undefined),
        options?.signal,
        () => setMany.call(cache, entries, options),
      );
  }
  const { addMembers, hasMember } = cache;
  const sets: Pick<Cache<V>, "addMembers" | "hasMember"> = {};
  if (typeof addMembers === "function" && typeof hasMember === "function") {
    const add = site("addMembers");
    const member = site("hasMember");
    sets.addMembers = (key, members, options) =>
      intercept(
        add,
        () => key,
        options?.signal,
        () => addMembers.call(cache, key, members, options),
      );
    sets.hasMember = (key, value, options) =>
      intercept(
        member,
        () => key,
        options?.signal,
        () => hasMember.call(cache, key, value, options),
      );
  }
  return {
    get capabilities() {
      return cache.capabilities;
    },
    get: (key, options) =>
      intercept(
        get,
        () => key,
        options?.signal,
        () => cache.get(key, options),
      ),
    set: (key, value, options) =>
      intercept(
        set,
        () => key,
        options?.signal,
        () => cache.set(key, value, options),
      ),
    has: (key, options) =>
      intercept(
        has,
        () => key,
        options?.signal,
        () => cache.has(key, options),
      ),
    delete: (key, options) =>
      intercept(
        del,
        () => key,
        options?.signal,
        () => cache.delete(key, options),
      ),
    deletePrefix: (prefix, options) =>
      intercept(
        deletePrefix,
        () => prefix,
        options?.signal,
        () => cache.deletePrefix(prefix, options),
      ),
    deleteByTag: (tag, options) =>
      intercept(
        deleteByTag,
        () => tag,
        options?.signal,
        () => cache.deleteByTag(tag, options),
      ),
    clear: (options) => intercept(clear, undefined, options?.signal, () => cache.clear(options)),
    getOrSet: (key, loader, options) =>
      intercept(
        getOrSet,
        () => key,
        options?.signal,
        () => cache.getOrSet(key, loader, options),
      ),
    stats: (options) => intercept(stats, undefined, options?.signal, () => cache.stats(options)),
    ...batch,
    ...sets,
    close: () => cache.close(),
    [Symbol.asyncDispose]: () => cache.close(),
  };
}

/** The keys of `setMany` entries; an entry that is no object (for the adapter to refuse) has none. */
function keysOf(entries: readonly unknown[]): string[] {
  const keys: string[] = [];
  for (const entry of entries) {
    const key = typeof entry === "object" && entry !== null ? (entry as Partial<CacheEntry>).key : undefined;
    if (typeof key === "string") keys.push(key);
  }
  return keys;
}
