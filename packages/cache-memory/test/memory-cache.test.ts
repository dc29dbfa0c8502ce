import { expectErrorCode } from "@proj/contract-tests";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryCache } from "../src/index.js";

describe("expiry with fake timers", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("returns an entry up to the millisecond before its TTL and never from its TTL on", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", "v", { ttlMs: 1_000 });
    vi.advanceTimersByTime(999);
    expect(cache.getSync("k")).toBe("v");
    expect(await cache.get("k")).toBe("v");
    vi.advanceTimersByTime(1);
    expect(cache.getSync("k")).toBeUndefined();
    expect(cache.hasSync("k")).toBe(false);
    expect(await cache.getOrSet("k", async () => "reloaded")).toBe("reloaded");
  });

  it("applies defaultTtlMs to set and getOrSet without ttlMs", async () => {
    const cache = createMemoryCache({ maxEntries: 10, defaultTtlMs: 100 });
    cache.setSync("set", 1);
    await cache.getOrSet("loaded", async () => 2);
    cache.setSync("explicit", 3, { ttlMs: 1_000 });
    vi.advanceTimersByTime(100);
    expect(cache.getSync("set")).toBeUndefined();
    expect(cache.getSync("loaded")).toBeUndefined();
    expect(cache.getSync("explicit")).toBe(3);
  });

  it("counts a lookup of an expired entry as a miss and does not count it in deletePrefix", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("t:1", 1, { ttlMs: 10 });
    cache.setSync("t:2", 2, { ttlMs: 10 });
    cache.setSync("t:3", 3);
    vi.advanceTimersByTime(10);
    expect(cache.getSync("t:1")).toBeUndefined();
    expect(cache.statsSync()).toMatchObject({ hits: 0, misses: 1 });
    expect(cache.deletePrefixSync("t:")).toBe(1);
    expect(cache.statsSync().size).toBe(0);
  });

  it("reports delete of an expired entry as false and frees its slot", () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", 1, { ttlMs: 10 });
    vi.advanceTimersByTime(10);
    expect(cache.deleteSync("k")).toBe(false);
    expect(cache.statsSync().size).toBe(0);
  });
});

/** Keeps the thread busy, so no timer can fire, for at least `ms` of real time. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning is the point: a timer-driven clock cannot advance meanwhile
  }
}

describe("expiry after long synchronous work", () => {
  it("never serves an entry past its TTL from getSync, hasSync or getOrSet, with no lookup in between", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", "v", { ttlMs: 50 });
    expect(cache.getSync("k")).toBe("v");
    busyWait(150);
    expect(cache.getSync("k")).toBeUndefined();

    cache.setSync("k", "v", { ttlMs: 50 });
    expect(cache.hasSync("k")).toBe(true);
    busyWait(150);
    expect(cache.hasSync("k")).toBe(false);

    cache.setSync("k", "v", { ttlMs: 50 });
    busyWait(150);
    expect(await cache.getOrSet("k", async () => "reloaded")).toBe("reloaded");
  });
});

describe("get through the port", () => {
  it("answers repeated hits on one entry with one settled promise instead of a new one per call", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", { plan: "pro" });
    const first = cache.get("k");
    expect(cache.get("k")).toBe(first);
    expect(await first).toEqual({ plan: "pro" });
    expect(cache.get("absent")).toBe(cache.get("other-absent"));
    expect(await cache.get("absent")).toBeUndefined();
    expect(cache.statsSync()).toMatchObject({ hits: 2, misses: 3 });
  });

  it("never answers with the settled promise of a value that was replaced, deleted or evicted", async () => {
    const cache = createMemoryCache<number>({ maxEntries: 1 });
    await cache.set("a", 1);
    expect(await cache.get("a")).toBe(1);
    await cache.set("a", 2);
    expect(await cache.get("a")).toBe(2);
    await cache.delete("a");
    expect(await cache.get("a")).toBeUndefined();
    await cache.set("a", 3);
    expect(await cache.get("a")).toBe(3);
    // maxEntries 1: "b" evicts "a" and takes over its slot, settled promise included.
    await cache.set("b", 4);
    expect(await cache.get("b")).toBe(4);
    expect(await cache.get("a")).toBeUndefined();
    await cache.clear();
    await cache.set("b", 5);
    expect(await cache.get("b")).toBe(5);
  });

  it("hands each hit its own copy with clone", async () => {
    const cache = createMemoryCache<{ n: number }>({ maxEntries: 10, clone: true });
    await cache.set("k", { n: 1 });
    const first = await cache.get("k");
    first!.n = 99;
    expect(await cache.get("k")).toEqual({ n: 1 });
  });

  it("does not answer with an entry's settled promise once the entry expired during synchronous work", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", "v", { ttlMs: 50 });
    expect(await cache.get("k")).toBe("v");
    busyWait(150);
    expect(await cache.get("k")).toBeUndefined();
  });
});

describe("the clock behind expiry", () => {
  it("serves no entry past its TTL after synchronous work, however far its deadline was at the last miss, write or hit", async () => {
    // A clock sample refreshed on misses and writes, trusted while the deadline is farther away
    // than some error bound, would serve "k" here: every call before the busy wait sees it 100 ms
    // from expiry, and nothing runs in the cache while the thread is busy.
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", "v", { ttlMs: 100 });
    cache.setSync("forever", "w");
    expect(cache.getSync("absent")).toBeUndefined();
    expect(cache.getSync("k")).toBe("v");
    expect(cache.getSync("forever")).toBe("w");
    busyWait(250);
    expect(cache.getSync("k")).toBeUndefined();
    expect(cache.getSync("forever")).toBe("w");
  });
});

describe("least-recently-used eviction", () => {
  it("evicts the entry used least recently, where get and set count as use and has does not", () => {
    const cache = createMemoryCache({ maxEntries: 3 });
    cache.setSync("a", 1);
    cache.setSync("b", 2);
    cache.setSync("c", 3);
    cache.getSync("a");
    cache.hasSync("b");
    cache.setSync("d", 4);
    expect(cache.hasSync("b")).toBe(false);
    cache.setSync("c", 30);
    cache.setSync("e", 5);
    expect(cache.hasSync("a")).toBe(false);
    expect(["c", "d", "e"].map((k) => cache.getSync(k))).toEqual([30, 4, 5]);
    expect(cache.statsSync()).toMatchObject({ evictions: 2, size: 3 });
  });

  it("keeps exact LRU order across the growth of its slot arrays", () => {
    const max = 5_000;
    const cache = createMemoryCache<number>({ maxEntries: max });
    for (let i = 0; i < max; i++) cache.setSync(`k${i}`, i);
    for (let i = 0; i < max; i += 2) cache.getSync(`k${i}`);
    for (let i = 0; i < max / 2; i++) cache.setSync(`new${i}`, i);
    for (let i = 0; i < max; i++) expect(cache.hasSync(`k${i}`), `k${i}`).toBe(i % 2 === 0);
    expect(cache.statsSync()).toMatchObject({ size: max, evictions: max / 2 });
  });

  it("stays within maxEntries under a stream of distinct keys and reuses freed slots", () => {
    const cache = createMemoryCache<number>({ maxEntries: 100 });
    for (let i = 0; i < 50; i++) cache.setSync(`x${i}`, i);
    for (let i = 0; i < 50; i += 2) cache.deleteSync(`x${i}`);
    for (let i = 0; i < 100_000; i++) {
      cache.setSync(`y${i}`, i);
      if (i % 7 === 0) cache.deleteSync(`y${i - 3}`);
    }
    const stats = cache.statsSync();
    expect(stats.size).toBeLessThanOrEqual(100);
    expect(stats.evictions).toBeGreaterThan(80_000);
    expect(cache.getSync("y99999")).toBe(99_999);
  });

  it("holds a single entry with maxEntries 1", () => {
    const cache = createMemoryCache({ maxEntries: 1 });
    cache.setSync("a", 1);
    cache.setSync("b", 2);
    expect(cache.hasSync("a")).toBe(false);
    expect(cache.getSync("b")).toBe(2);
    expect(cache.deleteSync("b")).toBe(true);
    cache.setSync("c", 3);
    expect(cache.getSync("c")).toBe(3);
  });
});

describe("maxBytes", () => {
  const sizeOf = (value: string) => value.length;

  it("evicts least recently used entries until the total size fits", () => {
    const cache = createMemoryCache<string>({ maxEntries: 100, maxBytes: 10, sizeOf });
    cache.setSync("a", "aaaa");
    cache.setSync("b", "bbbb");
    cache.getSync("a");
    cache.setSync("c", "cccc");
    expect(cache.hasSync("b")).toBe(false);
    expect(cache.hasSync("a")).toBe(true);
    cache.setSync("a", "a");
    cache.setSync("d", "ddddd");
    expect(cache.hasSync("c")).toBe(true);
    expect(cache.statsSync()).toMatchObject({ evictions: 1, size: 3 });
  });

  it("does not store a value larger than maxBytes, and drops the key's previous value", () => {
    const cache = createMemoryCache<string>({ maxEntries: 100, maxBytes: 10, sizeOf });
    cache.setSync("keep", "kk");
    cache.setSync("big", "small");
    cache.setSync("big", "x".repeat(11));
    expect(cache.hasSync("big")).toBe(false);
    expect(cache.getSync("keep")).toBe("kk");
  });

  it("rejects a sizeOf result that is not a non-negative number with INVALID_ARGUMENT", async () => {
    const cache = createMemoryCache<string>({ maxEntries: 10, maxBytes: 10, sizeOf: () => Number.NaN });
    await expectErrorCode(() => cache.setSync("k", "v"), "INVALID_ARGUMENT");
    expect(cache.hasSync("k")).toBe(false);
  });
});

describe("stale-while-revalidate with fake timers", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("serves the stale value only until the hard max age of TTL plus window", async () => {
    const cache = createMemoryCache<string>({ maxEntries: 10 });
    const opts = { ttlMs: 100, staleWhileRevalidateMs: 50 };
    await cache.getOrSet("k", async () => "v1", opts);
    vi.advanceTimersByTime(149);
    let release!: (value: string) => void;
    const refresh = () =>
      new Promise<string>((resolve) => {
        release = resolve;
      });
    expect(await cache.getOrSet("k", refresh, opts)).toBe("v1");
    vi.advanceTimersByTime(1);
    let settled = false;
    const pastWindow = cache.getOrSet("k", refresh, opts).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled, "past the window the caller must wait for the refresh").toBe(false);
    release("v2");
    expect(await pastWindow).toBe("v2");
  });

  it("keeps the stale value after a failed refresh and reports the failure", async () => {
    const failures: Array<[unknown, string]> = [];
    const cache = createMemoryCache<string>({
      maxEntries: 10,
      onRefreshError: (error, key) => failures.push([error, key]),
    });
    const opts = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.getOrSet("k", async () => "v1", opts);
    vi.advanceTimersByTime(200);
    const boom = new Error("refresh failed");
    expect(
      await cache.getOrSet(
        "k",
        async () => {
          throw boom;
        },
        opts,
      ),
    ).toBe("v1");
    await vi.advanceTimersByTimeAsync(0);
    expect(failures).toEqual([[boom, "k"]]);
    expect(await cache.getOrSet("k", async () => "v2", opts)).toBe("v1");
    await vi.advanceTimersByTimeAsync(0);
    expect(await cache.getOrSet("k", async () => "v3", opts)).toBe("v2");
  });

  it("does not serve an entry stored by set as stale", async () => {
    const cache = createMemoryCache<string>({ maxEntries: 10 });
    cache.setSync("k", "v1", { ttlMs: 100 });
    vi.advanceTimersByTime(150);
    expect(await cache.getOrSet("k", async () => "v2", { ttlMs: 100, staleWhileRevalidateMs: 1_000 })).toBe(
      "v2",
    );
  });

  it("lets a caller without the option wait for the running refresh instead of starting another", async () => {
    const cache = createMemoryCache<string>({ maxEntries: 10 });
    const opts = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.getOrSet("k", async () => "v1", opts);
    vi.advanceTimersByTime(150);
    let release!: (value: string) => void;
    let calls = 0;
    const refresh = () => {
      calls += 1;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    expect(await cache.getOrSet("k", refresh, opts)).toBe("v1");
    const waiting = cache.getOrSet("k", refresh);
    release("v2");
    expect(await waiting).toBe("v2");
    expect(calls).toBe(1);
  });

  it("rejects a negative or fractional window with INVALID_ARGUMENT", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    for (const staleWhileRevalidateMs of [-1, 0.5]) {
      await expectErrorCode(
        cache.getOrSet("k", async () => 1, { staleWhileRevalidateMs }),
        "INVALID_ARGUMENT",
      );
    }
  });
});

describe("writes that overtake a running load", () => {
  const slowLoad = () => {
    let release!: (value: string) => void;
    const loader = () =>
      new Promise<string>((resolve) => {
        release = resolve;
      });
    return { loader, release: (value: string) => release(value) };
  };

  it("keeps a set made while the loader ran, and hands the loader's value to its waiters", async () => {
    const cache = createMemoryCache<string>({ maxEntries: 10 });
    const { loader, release } = slowLoad();
    const waiting = cache.getOrSet("k", loader);
    cache.setSync("k", "written");
    release("loaded");
    expect(await waiting).toBe("loaded");
    expect(cache.getSync("k")).toBe("written");
  });

  it.each([
    ["delete", (cache: ReturnType<typeof createMemoryCache<string>>) => cache.deleteSync("k")],
    ["deletePrefix", (cache: ReturnType<typeof createMemoryCache<string>>) => cache.deletePrefixSync("k")],
    ["clear", (cache: ReturnType<typeof createMemoryCache<string>>) => cache.clearSync()],
  ])("does not let a load resurrect a key removed by %s while it ran", async (_name, remove) => {
    const cache = createMemoryCache<string>({ maxEntries: 10 });
    const { loader, release } = slowLoad();
    const waiting = cache.getOrSet("k", loader);
    remove(cache);
    release("stale");
    expect(await waiting).toBe("stale");
    expect(cache.hasSync("k")).toBe(false);
    expect(await cache.getOrSet("k", async () => "fresh")).toBe("fresh");
  });
});

describe("values and the clone option", () => {
  it("returns the stored object itself without clone", () => {
    const cache = createMemoryCache<{ n: number }>({ maxEntries: 10 });
    const value = { n: 1 };
    cache.setSync("k", value);
    expect(cache.getSync("k")).toBe(value);
  });

  it("isolates the stored value from mutation of what was passed in and handed out with clone", async () => {
    const cache = createMemoryCache<{ n: number; list: number[] }>({ maxEntries: 10, clone: true });
    const value = { n: 1, list: [1] };
    cache.setSync("k", value);
    value.n = 2;
    const got = cache.getSync("k")!;
    got.list.push(2);
    expect(cache.getSync("k")).toEqual({ n: 1, list: [1] });
    const loaded = await cache.getOrSet("l", async () => ({ n: 5, list: [] }));
    loaded.list.push(9);
    expect(await cache.getOrSet("l", async () => ({ n: 0, list: [] }))).toEqual({ n: 5, list: [] });
  });

  it("rejects a value that cannot be cloned with INVALID_ARGUMENT", async () => {
    const cache = createMemoryCache<unknown>({ maxEntries: 10, clone: true });
    await expectErrorCode(() => cache.setSync("k", { run: () => 1 }), "INVALID_ARGUMENT");
    expect(cache.hasSync("k")).toBe(false);
  });
});

describe("the synchronous path", () => {
  it("throws INVALID_ARGUMENT synchronously for an empty key, CLOSED after close", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    expect(() => cache.getSync("")).toThrow(/non-empty/);
    await expectErrorCode(() => cache.setSync("", 1), "INVALID_ARGUMENT");
    await expectErrorCode(() => cache.deletePrefixSync(""), "INVALID_ARGUMENT");
    await cache.close();
    for (const call of [
      () => cache.getSync("k"),
      () => cache.setSync("k", 1),
      () => cache.hasSync("k"),
      () => cache.deleteSync("k"),
      () => cache.deletePrefixSync("k"),
      () => cache.clearSync(),
      () => cache.statsSync(),
    ]) {
      await expectErrorCode(call, "CLOSED");
    }
  });

  it("shares its entries and counters with the async port methods", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    cache.setSync("k", 1);
    expect(await cache.get("k")).toBe(1);
    await cache.set("j", 2);
    expect(cache.getSync("j")).toBe(2);
    expect(await cache.stats()).toEqual(cache.statsSync());
    expect(cache.statsSync()).toMatchObject({ hits: 2, misses: 0, size: 2 });
  });
});

describe("options", () => {
  it.each([
    ["maxEntries of 0", { maxEntries: 0 }],
    ["fractional maxEntries", { maxEntries: 1.5 }],
    ["maxEntries of 2^32", { maxEntries: 2 ** 32 }],
    ["maxBytes without sizeOf", { maxEntries: 1, maxBytes: 10 }],
    ["maxBytes of 0", { maxEntries: 1, maxBytes: 0, sizeOf: () => 1 }],
    ["a defaultTtlMs of 0", { maxEntries: 1, defaultTtlMs: 0 }],
    ["maxMembers of 0", { maxEntries: 1, maxMembers: 0 }],
    ["fractional maxMembers", { maxEntries: 1, maxMembers: 2.5 }],
  ])("rejects %s with INVALID_ARGUMENT", async (_label, options) => {
    await expectErrorCode(() => createMemoryCache(options), "INVALID_ARGUMENT");
  });
});

describe("tags", () => {
  it("forgets the tags of an evicted entry, so deleteByTag neither counts nor leaks it", () => {
    const cache = createMemoryCache<number>({ maxEntries: 2 });
    cache.setSync("a", 1, { tags: ["t"] });
    cache.setSync("b", 2, { tags: ["t"] });
    cache.setSync("c", 3); // evicts "a"
    expect(cache.statsSync().evictions).toBe(1);
    expect(cache.deleteByTagSync("t")).toBe(1);
    expect(cache.getSync("c")).toBe(3);
    cache.setSync("a", 4); // the key comes back untagged
    expect(cache.deleteByTagSync("t")).toBe(0);
    expect(cache.getSync("a")).toBe(4);
  });

  it("keeps the tags of a slot reused after removal apart from its new entry", () => {
    const cache = createMemoryCache<number>({ maxEntries: 10 });
    cache.setSync("a", 1, { tags: ["t"] });
    cache.deleteSync("a");
    cache.setSync("b", 2); // takes the freed slot
    expect(cache.deleteByTagSync("t")).toBe(0);
    expect(cache.getSync("b")).toBe(2);
    cache.setSync("c", 3, { tags: ["t"] });
    cache.clearSync();
    cache.setSync("c", 4);
    expect(cache.deleteByTagSync("t")).toBe(0);
  });

  it("drops a tagged entry kept stale for revalidation along with the others", async () => {
    vi.useFakeTimers();
    try {
      const cache = createMemoryCache<string>({ maxEntries: 10 });
      await cache.getOrSet("k", async () => "v", { ttlMs: 100, staleWhileRevalidateMs: 10_000, tags: ["t"] });
      vi.advanceTimersByTime(200);
      expect(cache.deleteByTagSync("t"), "a stale entry is not live").toBe(0);
      expect(
        await cache.getOrSet("k", async () => "fresh", { ttlMs: 100, staleWhileRevalidateMs: 10_000 }),
      ).toBe("fresh");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("member sets", () => {
  it("expires a set at its TTL to the millisecond, and each call sets the TTL anew", () => {
    vi.useFakeTimers();
    try {
      const cache = createMemoryCache({ maxEntries: 10, defaultTtlMs: 50 });
      cache.addMembersSync("s", ["a"], { ttlMs: 1_000 });
      cache.addMembersSync("d", ["a"]);
      vi.advanceTimersByTime(999);
      expect(cache.hasMemberSync("s", "a")).toBe(true);
      expect(cache.hasMemberSync("d", "a"), "the default TTL").toBe(false);
      cache.addMembersSync("s", ["b"], { ttlMs: 10 });
      vi.advanceTimersByTime(9);
      expect(cache.hasMemberSync("s", "a")).toBe(true);
      vi.advanceTimersByTime(1);
      expect(cache.hasMemberSync("s", "a")).toBe(false);
      expect(cache.hasMemberSync("s", "b")).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it("holds at most maxMembers members, evicting the least recently used sets whole", () => {
    const cache = createMemoryCache({ maxEntries: 100, maxMembers: 4 });
    cache.addMembersSync("old", ["a", "b"]);
    cache.addMembersSync("used", ["a"]);
    cache.addMembersSync("new", ["a"]);
    expect(cache.hasMemberSync("old", "a"), "within the bound").toBe(true);
    // "old" was just used: "used" is now the least recently used.
    cache.addMembersSync("newest", ["a"]);
    expect(cache.hasMemberSync("used", "a"), "the least recently used set").toBe(false);
    expect(cache.hasMemberSync("old", "b")).toBe(true);
    expect(cache.hasMemberSync("new", "a")).toBe(true);
    expect(cache.hasMemberSync("newest", "a")).toBe(true);
    // A member already held costs nothing more.
    cache.addMembersSync("old", ["a", "b"]);
    expect(cache.hasMemberSync("new", "a")).toBe(true);
    expect(cache.statsSync(), "member sets are not entries").toMatchObject({ size: 0, evictions: 0 });
  });

  it("drops a set that alone would exceed maxMembers and keeps the others", () => {
    const cache = createMemoryCache({ maxEntries: 100, maxMembers: 3 });
    cache.addMembersSync("other", ["x"]);
    cache.addMembersSync("big", ["a", "b"]);
    cache.addMembersSync("big", ["c", "d"]);
    expect(cache.hasMemberSync("big", "a")).toBe(false);
    expect(cache.hasMemberSync("big", "d")).toBe(false);
    expect(cache.hasMemberSync("other", "x"), "kept").toBe(true);
    cache.addMembersSync("big", ["e", "f"]);
    expect(cache.hasMemberSync("big", "e"), "a new set under the key fits again").toBe(true);
    expect(cache.hasMemberSync("other", "x")).toBe(true);
  });

  it("stays within maxMembers under a stream of distinct sets, expired ones included", () => {
    vi.useFakeTimers();
    try {
      const cache = createMemoryCache({ maxEntries: 10, maxMembers: 10 });
      for (let i = 0; i < 10_000; i++) cache.addMembersSync(`s${i}`, [`m${i}`, "shared"], { ttlMs: 5 });
      vi.advanceTimersByTime(10);
      for (let i = 0; i < 10_000; i++) cache.addMembersSync(`t${i}`, [`m${i}`]);
      for (let i = 0; i < 9_990; i++) expect(cache.hasMemberSync(`t${i}`, `m${i}`)).toBe(false);
      for (let i = 9_990; i < 10_000; i++) expect(cache.hasMemberSync(`t${i}`, `m${i}`)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("answers hasMember on the synchronous path, refuses bad input and is CLOSED after close", async () => {
    const cache = createMemoryCache({ maxEntries: 10 });
    await cache.addMembers("k", ["a"]);
    expect(cache.hasMemberSync("k", "a")).toBe(true);
    cache.addMembersSync("k", ["b"]);
    expect(await cache.hasMember("k", "b")).toBe(true);
    await expectErrorCode(() => cache.hasMemberSync("k", ""), "INVALID_ARGUMENT");
    await expectErrorCode(() => cache.hasMemberSync("absent", "\ud800"), "INVALID_ARGUMENT");
    await expectErrorCode(() => cache.addMembersSync("k", ["c", ""]), "INVALID_ARGUMENT");
    expect(cache.hasMemberSync("k", "c")).toBe(false);
    await cache.close();
    await expectErrorCode(() => cache.addMembersSync("k", ["a"]), "CLOSED");
    await expectErrorCode(() => cache.hasMemberSync("k", "a"), "CLOSED");
    await expectErrorCode(cache.addMembers("k", []), "CLOSED");
  });
});
