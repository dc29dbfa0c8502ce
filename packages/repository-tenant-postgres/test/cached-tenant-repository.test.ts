import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { createMemoryCache } from "@proj/cache-memory";
import type { JsonValue, TenantRepository } from "@proj/ports";
import { beforeEach, describe, expect, it } from "vitest";
import { createCachedTenantRepository } from "../src/index.js";

/**
 * A real repository that counts the reads reaching it; `holdLists` makes the next list calls read
 * their page, then wait until released before answering (a read racing a write).
 */
function countingRepository(): {
  repository: TenantRepository;
  reads: () => number;
  lists: () => number;
  holdLists(): () => void;
} {
  const inner = createMemoryTenantRepository();
  let reads = 0;
  let lists = 0;
  let hold: Promise<void> | undefined;
  const repository: TenantRepository = {
    create: (tenant) => inner.create(tenant),
    getById: (id) => {
      reads++;
      return inner.getById(id);
    },
    getBySlug: (slug) => {
      reads++;
      return inner.getBySlug(slug);
    },
    list: async (options) => {
      lists++;
      const page = await inner.list(options);
      await hold;
      return page;
    },
    update: (id, changes, version) => inner.update(id, changes, version),
    changeStatus: (id, status, version) => inner.changeStatus(id, status, version),
    delete: (id, version) => inner.delete(id, version),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return {
    repository,
    reads: () => reads,
    lists: () => lists,
    holdLists() {
      let release = () => {};
      hold = new Promise((resolve) => {
        release = () => {
          hold = undefined;
          resolve();
        };
      });
      return release;
    },
  };
}

describe("cached tenant repository", () => {
  let inner: ReturnType<typeof countingRepository>;
  let cached: TenantRepository;

  beforeEach(() => {
    inner = countingRepository();
    cached = createCachedTenantRepository(
      inner.repository,
      createMemoryCache<JsonValue>({ maxEntries: 100 }),
    );
  });

  it("serves repeated reads by id and slug from the cache, with equal values", async () => {
    const created = await cached.create({ slug: "acme", name: "Acme", plan: "pro", settings: { a: 1 } });
    const first = await cached.getById(created.id);
    for (let i = 0; i < 5; i++) expect(await cached.getById(created.id)).toEqual(first);
    expect(await cached.getBySlug("acme")).toEqual(first);
    expect(first).toEqual(created);
    expect(inner.reads()).toBe(2);
  });

  it("invalidates on update and status change, so the next read sees the write", async () => {
    const created = await cached.create({ slug: "acme", name: "Acme", plan: "pro" });
    await cached.getById(created.id);
    await cached.update(created.id, { plan: "enterprise" }, 1);
    expect((await cached.getBySlug("acme")).plan).toBe("enterprise");
    await cached.changeStatus(created.id, "suspended", 2);
    expect((await cached.getById(created.id)).status).toBe("suspended");
  });

  it("invalidates even when a write fails with CONFLICT", async () => {
    const created = await cached.create({ slug: "acme", name: "Acme", plan: "pro" });
    await cached.getById(created.id);
    await inner.repository.update(created.id, { name: "Changed elsewhere" }, 1);
    await expect(cached.update(created.id, { name: "Mine" }, 1)).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await cached.getById(created.id)).name).toBe("Changed elsewhere");
  });

  it("finds a newer tenant that reuses a deleted tenant's slug", async () => {
    const old = await cached.create({ slug: "reused", name: "Old", plan: "pro" });
    await cached.getBySlug("reused");
    await cached.delete(old.id);
    const newer = await cached.create({ slug: "reused", name: "New", plan: "pro" });
    expect((await cached.getBySlug("reused")).id).toBe(newer.id);
  });

  it("returns copies that do not change the cached value", async () => {
    const created = await cached.create({ slug: "acme", name: "Acme", plan: "pro", settings: { list: [1] } });
    const read = await cached.getById(created.id);
    (read.settings.list as number[]).push(2);
    expect((await cached.getById(created.id)).settings).toEqual({ list: [1] });
  });

  describe("pages", () => {
    const slugs = (page: { items: { slug: string }[] }) => page.items.map((tenant) => tenant.slug);

    it("serves a repeated page from the cache, a copy each time, equal to the source's", async () => {
      for (const slug of ["alpha", "bravo", "charlie"])
        await cached.create({ slug, name: slug, plan: "pro", settings: { tags: [slug] } });
      const source = await inner.repository.list({ limit: 2 });
      const first = await cached.list({ limit: 2 });
      expect(first).toEqual(source);
      expect(first.nextCursor).toBeDefined();
      const listsAfterFirst = inner.lists();
      const [head] = first.items;
      if (head === undefined) throw new Error("the page is empty");
      (head.settings.tags as string[]).push("changed");
      head.createdAt.setTime(0);
      for (let i = 0; i < 5; i++) expect(await cached.list({ limit: 2 })).toEqual(source);
      expect(inner.lists()).toBe(listsAfterFirst);
      // Another page, another status, the default size: each its own entry.
      expect(await cached.list({ limit: 2, after: first.nextCursor })).toEqual(
        await inner.repository.list({ limit: 2, after: first.nextCursor }),
      );
      expect(slugs(await cached.list({ status: "suspended" }))).toEqual([]);
      expect(slugs(await cached.list())).toEqual(slugs(await inner.repository.list()));
      expect(slugs(await cached.list()).sort()).toEqual(["alpha", "bravo", "charlie"]);
    });

    it("never serves a page cached before a write through it: create, update, status, delete", async () => {
      const alpha = await cached.create({ slug: "alpha", name: "Alpha", plan: "pro" });
      expect(slugs(await cached.list())).toEqual(["alpha"]);
      const bravo = await cached.create({ slug: "bravo", name: "Bravo", plan: "pro" });
      expect(slugs(await cached.list()).sort()).toEqual(["alpha", "bravo"]);
      await cached.list({ status: "suspended" });
      await cached.update(alpha.id, { plan: "enterprise" }, 1);
      expect((await cached.list()).items.find((t) => t.id === alpha.id)?.plan).toBe("enterprise");
      await cached.changeStatus(bravo.id, "suspended", 1);
      expect(slugs(await cached.list({ status: "suspended" }))).toEqual(["bravo"]);
      await cached.delete(alpha.id);
      expect(slugs(await cached.list())).toEqual(["bravo"]);
    });

    it("drops the cached pages even when the write fails", async () => {
      const alpha = await cached.create({ slug: "alpha", name: "Alpha", plan: "pro" });
      expect((await cached.list()).items[0]?.name).toBe("Alpha");
      // Changed behind the cache's back, then a write through it that fails with CONFLICT.
      await inner.repository.update(alpha.id, { name: "Changed elsewhere" }, 1);
      await expect(cached.update(alpha.id, { name: "Mine" }, 1)).rejects.toMatchObject({ code: "CONFLICT" });
      expect((await cached.list()).items[0]?.name).toBe("Changed elsewhere");
      await inner.repository.create({ slug: "bravo", name: "Bravo", plan: "pro" });
      await expect(cached.create({ slug: "bravo", name: "Again", plan: "pro" })).rejects.toMatchObject({
        code: "CONFLICT",
      });
      expect(slugs(await cached.list()).sort()).toEqual(["alpha", "bravo"]);
    });

    it("does not keep a page read before a write that committed while the read was answering", async () => {
      const alpha = await cached.create({ slug: "alpha", name: "Alpha", plan: "pro" });
      const release = inner.holdLists();
      const racing = cached.list();
      // The racing read has its page (Alpha only) and waits; a write commits meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 10));
      await cached.update(alpha.id, { name: "Renamed" }, 1);
      await cached.create({ slug: "bravo", name: "Bravo", plan: "pro" });
      release();
      expect(slugs(await racing)).toEqual(["alpha"]);
      const after = await cached.list();
      expect(slugs(after).sort()).toEqual(["alpha", "bravo"]);
      expect(after.items.find((t) => t.id === alpha.id)?.name).toBe("Renamed");
    });

    it("hands options the source refuses straight to it, so its answer is the answer", async () => {
      await cached.create({ slug: "alpha", name: "Alpha", plan: "pro" });
      const outcome = (promise: Promise<unknown>) =>
        promise.then(
          (value) => ({ value }),
          (error: unknown) => ({ code: (error as { code?: string }).code }),
        );
      for (const options of [
        { limit: 0 },
        { limit: 1.5 },
        { limit: 501 },
        { after: "not a cursor!" },
        { after: "\ud800" },
        { after: "bm90LWEtY3Vyc29y" },
        { status: "archived" as never },
      ]) {
        const expected = await outcome(inner.repository.list(options));
        expect(await outcome(cached.list(options)), JSON.stringify(options)).toEqual(expected);
      }
      expect(await outcome(cached.list({ limit: 0 }))).toEqual({ code: "INVALID_ARGUMENT" });
    });

    it("asks the source every time with cachePages: false", async () => {
      const uncached = createCachedTenantRepository(
        inner.repository,
        createMemoryCache<JsonValue>({ maxEntries: 100 }),
        { cachePages: false },
      );
      await uncached.create({ slug: "alpha", name: "Alpha", plan: "pro" });
      const before = inner.lists();
      for (let i = 0; i < 3; i++) expect(slugs(await uncached.list())).toEqual(["alpha"]);
      expect(inner.lists()).toBe(before + 3);
    });
  });
});
