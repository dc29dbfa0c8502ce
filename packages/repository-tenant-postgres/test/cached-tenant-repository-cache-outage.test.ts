import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { createRedisCache } from "@proj/cache-redis";
import { uniqueName } from "@proj/contract-tests";
import type { Cache, JsonValue, TenantRepository } from "@proj/ports";
import { afterEach, describe, expect, it } from "vitest";
// The cache-redis tests' own relay, so "Redis" can go down without touching the shared server.
import { TcpProxy } from "../../cache-redis/test/support/tcp-proxy.js";
import { createCachedTenantRepository } from "../src/index.js";

const REDIS_HOST = "127.0.0.1";
const REDIS_PORT = 6379;

interface Outage {
  proxy: TcpProxy;
  cache: Cache<JsonValue>;
  source: TenantRepository;
  repository: TenantRepository;
  reports: { error: unknown; key: string }[];
  namespace: string;
}

const opened: Outage[] = [];

async function cachedOverRedis(commandTimeoutMs = 500): Promise<Outage> {
  const proxy = await TcpProxy.start(REDIS_HOST, REDIS_PORT);
  const namespace = uniqueName("tenant_outage");
  const cache = createRedisCache<JsonValue>({ url: proxy.url, namespace, commandTimeoutMs });
  const source = createMemoryTenantRepository();
  const reports: { error: unknown; key: string }[] = [];
  const repository = createCachedTenantRepository(source, cache, {
    onCacheReadError: (error, key) => reports.push({ error, key }),
  });
  const outage = { proxy, cache, source, repository, reports, namespace };
  opened.push(outage);
  return outage;
}

afterEach(async () => {
  for (const { proxy, cache, repository } of opened.splice(0)) {
    await proxy.restart().catch(() => undefined);
    await cache.clear().catch(() => undefined);
    await repository.close();
    await cache.close();
    await proxy.stop();
  }
});

describe("cached tenant repository during a cache outage", () => {
  it("answers reads by id and slug from the source when Redis is down, and reports the cache failure", async () => {
    const { proxy, repository, reports } = await cachedOverRedis();
    const created = await repository.create({ slug: "outage", name: "Outage Ltd", plan: "pro" });
    expect((await repository.getById(created.id)).name).toBe("Outage Ltd");
    expect(reports).toEqual([]);

    await proxy.stop();
    expect(await repository.getById(created.id)).toEqual(created);
    expect((await repository.getBySlug("outage")).id).toBe(created.id);
    expect(reports.length).toBeGreaterThanOrEqual(2);
    for (const report of reports)
      expect(report.error).toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|TIMEOUT/) });
    expect(reports.map((report) => report.key)).toContain(`tenant:id:${created.id}`);
    expect(reports.map((report) => report.key)).toContain("tenant:slug:outage");
  });

  it("answers from the source when Redis stops answering (command timeout)", async () => {
    const { proxy, repository, reports } = await cachedOverRedis(200);
    const created = await repository.create({ slug: "stalled", name: "Stalled", plan: "pro" });
    await repository.getById(created.id);
    proxy.stall();
    expect((await repository.getById(created.id)).slug).toBe("stalled");
    expect(reports.length).toBeGreaterThanOrEqual(1);
  });

  it("keeps serving reads through an outage and uses the cache again once Redis is back", async () => {
    const { proxy, repository, source, cache } = await cachedOverRedis();
    const created = await repository.create({ slug: "back", name: "Before", plan: "pro" });
    await proxy.stop();
    await source.update(created.id, { name: "During" }, created.version);
    expect((await repository.getById(created.id)).name).toBe("During");
    await proxy.restart();
    // The cache fails fast until its client has reconnected (back-off of up to 2 s): wait for it.
    const deadline = Date.now() + 10_000;
    while (
      !(await cache.has("probe").then(
        () => true,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error("the cache did not reconnect within 10 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await repository.getById(created.id)).name).toBe("During");
    expect(await cache.has(`tenant:id:${created.id}`)).toBe(true);
  });

  it("still fails with the source's own error, e.g. NOT_FOUND, when the source refuses", async () => {
    const { proxy, repository } = await cachedOverRedis();
    await expect(repository.getById("00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await proxy.stop();
    await expect(repository.getById("00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});

describe("cached pages over Redis", () => {
  it("answer from the source during an outage, asking the cache once per call, and report it", async () => {
    const { proxy, repository, source, reports } = await cachedOverRedis();
    await repository.create({ slug: "paged", name: "Paged", plan: "pro" });
    expect((await repository.list()).items.map((tenant) => tenant.slug)).toEqual(["paged"]);
    expect(reports).toEqual([]);
    await proxy.stop();
    await source.create({ slug: "during", name: "During", plan: "pro" });
    const page = await repository.list();
    expect(page).toEqual(await source.list());
    expect(page.items.map((tenant) => tenant.slug).sort()).toEqual(["during", "paged"]);
    expect(reports.map((report) => report.key)).toEqual(["tenant:list-generation"]);
    expect(reports[0]?.error).toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|TIMEOUT/) });
  });

  it("are shared by every process on the namespace, and a write through any of them drops them all", async () => {
    // Two repositories on one Redis namespace and one source: two instances of a service.
    const first = await cachedOverRedis();
    const { namespace } = first;
    const proxy = await TcpProxy.start(REDIS_HOST, REDIS_PORT);
    const cache = createRedisCache<JsonValue>({ url: proxy.url, namespace });
    const second = createCachedTenantRepository(first.source, cache);
    opened.push({ proxy, cache, source: first.source, repository: second, reports: [], namespace });

    const alpha = await first.repository.create({ slug: "alpha", name: "Alpha", plan: "pro" });
    expect((await first.repository.list()).items.map((tenant) => tenant.name)).toEqual(["Alpha"]);
    // The second instance is served the page the first one cached.
    await first.source.update(alpha.id, { name: "Behind the cache" }, 1);
    expect((await second.list()).items.map((tenant) => tenant.name)).toEqual(["Alpha"]);
    // A write through the second instance: neither serves the old page any more.
    await second.changeStatus(alpha.id, "suspended", 2);
    for (const repository of [first.repository, second]) {
      expect((await repository.list()).items).toMatchObject([
        { name: "Behind the cache", status: "suspended", version: 3 },
      ]);
      expect((await repository.list({ status: "active" })).items).toEqual([]);
    }
  });
});
