import type { Cache } from "@proj/ports";

/**
 * `inner` as a cache without `capabilities.memberSets`, so without `addMembers` and `hasMember`;
 * every other call (`setMany` included, when `inner` has it) reaches `inner` as given. What a
 * decorator wraps when its adapter has no member sets.
 */
export function withoutMemberSets<V>(inner: Cache<V>): Cache<V> {
  const batch: Pick<Cache<V>, "setMany"> = {};
  const setMany = inner.setMany;
  if (typeof setMany === "function") batch.setMany = (entries, call) => setMany.call(inner, entries, call);
  return {
    get capabilities() {
      return { ...inner.capabilities, memberSets: false };
    },
    get: (key, call) => inner.get(key, call),
    set: (key, value, call) => inner.set(key, value, call),
    has: (key, call) => inner.has(key, call),
    delete: (key, call) => inner.delete(key, call),
    deletePrefix: (prefix, call) => inner.deletePrefix(prefix, call),
    deleteByTag: (tag, call) => inner.deleteByTag(tag, call),
    clear: (call) => inner.clear(call),
    getOrSet: (key, loader, call) => inner.getOrSet(key, loader, call),
    stats: (call) => inner.stats(call),
    ...batch,
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}
