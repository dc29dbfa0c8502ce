import type { Cache } from "@proj/ports";

/**
 * `inner` as a cache without `capabilities.batchWrites`, so without `setMany`; every other call
 * (`addMembers` and `hasMember` included, when `inner` has them) reaches `inner` as given. What a
 * decorator wraps when its adapter writes one entry at a time.
 */
export function withoutBatchWrites<V>(inner: Cache<V>): Cache<V> {
  const sets: Pick<Cache<V>, "addMembers" | "hasMember"> = {};
  const { addMembers, hasMember } = inner;
  if (typeof addMembers === "function" && typeof hasMember === "function") {
    sets.addMembers = (key, members, options) => addMembers.call(inner, key, members, options);
    sets.hasMember = (key, member, options) => hasMember.call(inner, key, member, options);
  }
  return {
    get capabilities() {
      return { ...inner.capabilities, batchWrites: false };
    },
    get: (key, options) => inner.get(key, options),
    set: (key, value, options) => inner.set(key, value, options),
    has: (key, options) => inner.has(key, options),
    delete: (key, options) => inner.delete(key, options),
    deletePrefix: (prefix, options) => inner.deletePrefix(prefix, options),
    deleteByTag: (tag, options) => inner.deleteByTag(tag, options),
    clear: (options) => inner.clear(options),
    getOrSet: (key, loader, options) => inner.getOrSet(key, loader, options),
    stats: (options) => inner.stats(options),
    ...sets,
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}
