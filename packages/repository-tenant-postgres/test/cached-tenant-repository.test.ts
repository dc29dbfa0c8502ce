import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { createMemoryCache } from "@proj/cache-memory";
import type { JsonValue, TenantRepository } from "@proj/ports";
import { beforeEach, describe, expect, it } from "vitest";
import { createCachedTenantRepository } from "../src/index.js";

/** A real repository that counts the reads reaching it. */
function countingRepository(): { repository: TenantRepository; reads: () => number } {
  const inner = createMemoryTenantRepository();
  let reads = 0;
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
    list: (options) => inner.list(options),
    update: (id, changes, version) => inner.update(id, changes, version),
    changeStatus: (id, status, version) => inner.changeStatus(id, status, version),
    delete: (id, version) => inner.delete(id, version),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return { repository, reads: () => reads };
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
});
