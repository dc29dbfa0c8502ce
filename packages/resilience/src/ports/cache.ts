import type { Cache, CacheLoader } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { CALLER_CODE, callerCode, withSignal } from "../shared.js";

/**
 * A `Cache` whose calls go through `policy` (or a policy made from these options). Every operation
 * but `getOrSet` is retried: each leaves the same state when done twice (`setMany` too: it writes
 * the same entries again). `setMany` is offered exactly when `cache` offers it
 * (`capabilities.batchWrites`). `addMembers` and `hasMember` are offered exactly when `cache` offers
 * them (`capabilities.memberSets`): `hasMember` is retried like `has`; `addMembers` like `set`, and
 * also after a `TIMEOUT` or `UNAVAILABLE` whose outcome is unknown, since adding the same members
 * again is harmless (the port says so: it never removes anyone's members; at most it restarts the
 * set's TTL a little later). `getOrSet` is never
 * retried and has no deadline of the policy's by default, since it runs the caller's loader;
 * what the loader throws reaches the caller as thrown and never counts as a cache failure.
 */
export function withResilienceCache<V = unknown>(
  cache: Cache<V>,
  policy: ResiliencePolicy | ResilienceOptions = {},
): Cache<V> {
  const p = policyOf(policy);
  const op = (name: string) => p.operation("cache", name, { idempotent: true });
  const get = op("get");
  const set = op("set");
  const has = op("has");
  const del = op("delete");
  const deletePrefix = op("deletePrefix");
  const deleteByTag = op("deleteByTag");
  const clear = op("clear");
  const stats = op("stats");
  const getOrSet = p.operation("cache", "getOrSet", { idempotent: false, runsCallerCode: true });
  const setMany = cache.setMany;
  const batch: Pick<Cache<V>, "setMany"> = {};
  if (typeof setMany === "function") {
    const many = op("setMany");
    batch.setMany = (entries, options) =>
      p.run(many, options?.signal, (signal) => setMany.call(cache, entries, withSignal(options, signal)));
  }
  const { addMembers, hasMember } = cache;
  const sets: Pick<Cache<V>, "addMembers" | "hasMember"> = {};
  if (typeof addMembers === "function" && typeof hasMember === "function") {
    const add = p.operation("cache", "addMembers", { idempotent: true, repeatable: true });
    const member = op("hasMember");
    sets.addMembers = (key, members, options) =>
      p.run(add, options?.signal, (signal) =>
        addMembers.call(cache, key, members, withSignal(options, signal)),
      );
    sets.hasMember = (key, value, options) =>
      p.run(member, options?.signal, (signal) =>
        hasMember.call(cache, key, value, withSignal(options, signal)),
      );
  }
  return {
    get capabilities() {
      return cache.capabilities;
    },
    get: (key, options) =>
      p.run(get, options?.signal, (signal) => cache.get(key, withSignal(options, signal))),
    set: (key, value, options) =>
      p.run(set, options?.signal, (signal) => cache.set(key, value, withSignal(options, signal))),
    has: (key, options) =>
      p.run(has, options?.signal, (signal) => cache.has(key, withSignal(options, signal))),
    delete: (key, options) =>
      p.run(del, options?.signal, (signal) => cache.delete(key, withSignal(options, signal))),
    deletePrefix: (prefix, options) =>
      p.run(deletePrefix, options?.signal, (signal) =>
        cache.deletePrefix(prefix, withSignal(options, signal)),
      ),
    deleteByTag: (tag, options) =>
      p.run(deleteByTag, options?.signal, (signal) => cache.deleteByTag(tag, withSignal(options, signal))),
    clear: (options) => p.run(clear, options?.signal, (signal) => cache.clear(withSignal(options, signal))),
    stats: (options) => p.run(stats, options?.signal, (signal) => cache.stats(withSignal(options, signal))),
    getOrSet: (key, loader, options) => {
      const load: CacheLoader<V> = typeof loader === "function" ? callerCode(loader) : loader;
      return p.run(
        getOrSet,
        options?.signal,
        (signal) => cache.getOrSet(key, load, withSignal(options, signal)),
        CALLER_CODE,
      );
    },
    ...batch,
    ...sets,
    close: () => cache.close(),
    [Symbol.asyncDispose]: () => cache.close(),
  };
}
