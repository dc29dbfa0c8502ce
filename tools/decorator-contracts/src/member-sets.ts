import {
  type Cache,
  type CacheAddMembersOptions,
  type CacheCallOptions,
  closedError,
  InfrastructureError,
  validateCacheCallOptions,
  validateCacheKey,
  validateCacheMembers,
} from "@proj/ports";

/** One member set: its members and when it expires (`performance.now()` time; `Infinity`: never). */
interface MemberSet {
  members: Set<string>;
  expiresAt: number;
}

/**
 * `inner` with `capabilities.memberSets`: `addMembers` and `hasMember` as the `Cache` port states
 * them, held in this process (a `Map` of sets, each expiring `ttlMs` after its last `addMembers`, or
 * `defaultTtlMs`, or never); `clear` empties them with `inner`'s values and `close` closes `inner`
 * and ends them (`CLOSED`). Every other call reaches `inner` as given. Test support for the
 * decorators' own member-set tests, standing in for an adapter that has them; not bounded in
 * memory, never evicts.
 */
export function withMemberSets<V>(inner: Cache<V>, options: { defaultTtlMs?: number } = {}): Cache<V> {
  const sets = new Map<string, MemberSet>();
  let closed = false;
  const check = (call: CacheCallOptions | undefined, what: string) => {
    if (closed) throw closedError("the cache");
    validateCacheCallOptions(call ?? {}, Number.POSITIVE_INFINITY, what);
  };
  const live = (key: string): MemberSet | undefined => {
    const set = sets.get(key);
    if (set !== undefined && set.expiresAt <= performance.now()) {
      sets.delete(key);
      return undefined;
    }
    return set;
  };
  const addMembers = async (key: string, members: readonly string[], call?: CacheAddMembersOptions) => {
    check(call, "addMembers");
    validateCacheKey(key);
    const ttlMs = call?.ttlMs ?? options.defaultTtlMs;
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
      throw new InfrastructureError("INVALID_ARGUMENT", `ttlMs must be a positive integer, got ${ttlMs}`, {
        retryable: false,
      });
    }
    const valid = validateCacheMembers(members);
    if (valid.length === 0) return;
    const set = live(key) ?? { members: new Set<string>(), expiresAt: 0 };
    for (const member of valid) set.members.add(member);
    set.expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + ttlMs;
    sets.set(key, set);
  };
  const hasMember = async (key: string, member: string, call?: CacheCallOptions) => {
    check(call, "hasMember");
    validateCacheKey(key);
    validateCacheKey(member, "member");
    return live(key)?.members.has(member) ?? false;
  };
  const close = async () => {
    closed = true;
    sets.clear();
    await inner.close();
  };
  const batch: Pick<Cache<V>, "setMany"> = {};
  const setMany = inner.setMany;
  if (typeof setMany === "function") batch.setMany = (entries, call) => setMany.call(inner, entries, call);
  return {
    get capabilities() {
      return { ...inner.capabilities, memberSets: true };
    },
    get: (key, call) => inner.get(key, call),
    set: (key, value, call) => inner.set(key, value, call),
    has: (key, call) => inner.has(key, call),
    delete: (key, call) => inner.delete(key, call),
    deletePrefix: (prefix, call) => inner.deletePrefix(prefix, call),
    deleteByTag: (tag, call) => inner.deleteByTag(tag, call),
    clear: async (call) => {
      await inner.clear(call);
      sets.clear();
    },
    getOrSet: (key, loader, call) => inner.getOrSet(key, loader, call),
    stats: (call) => inner.stats(call),
    ...batch,
    addMembers,
    hasMember,
    close,
    [Symbol.asyncDispose]: close,
  };
}

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
