import { randomUUID } from "node:crypto";
import {
  type Cache,
  closedError,
  isInfrastructureError,
  type JsonValue,
  type ListTenantsOptions,
  type NewTenant,
  type OperationOptions,
  type Page,
  TENANT_STATUSES,
  type Tenant,
  type TenantChanges,
  type TenantRepository,
  type TenantStatus,
} from "@proj/ports";

export interface CachedTenantRepositoryOptions {
  /**
   * How long a cached tenant or page may be served, in ms (default 60 000). Bounds staleness
   * across processes.
   */
  ttlMs?: number;
  /**
   * Cache pages of `list` too (default true). Every write through this repository makes the
   * cached pages unreachable before it returns; writes made elsewhere are seen once `ttlMs` ends.
   */
  cachePages?: boolean;
  /** Prefix of every cache key (default `"tenant:"`). */
  keyPrefix?: string;
  /** Close the wrapped repository when this one closes (default true). The cache is the caller's. */
  closeInner?: boolean;
  /**
   * Told when the cache fails to drop an entry after a write. The write's own outcome is returned
   * regardless; the stale entry lives until its TTL. Default: ignored.
   */
  onInvalidationError?: (error: unknown, key: string) => void;
  /**
   * Told when the cache fails during a read (Redis down or too slow). The read does not fail: it is
   * answered from the wrapped repository instead. Wire it to a log or a metric, or an outage of the
   * cache goes unnoticed. Default: ignored.
   */
  onCacheReadError?: (error: unknown, key: string) => void;
}

/** The cached form: JSON only, so any `Cache` adapter (memory or Redis) can hold it. */
type CachedTenant = Omit<Tenant, "createdAt" | "updatedAt"> & { createdAt: string; updatedAt: string };

function toCached(tenant: Tenant): JsonValue {
  return {
    ...tenant,
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  } as CachedTenant as unknown as JsonValue;
}

/**
 * A fresh copy of a JSON value: the cache hands every reader the same stored object (cache-memory)
 * and callers may change what they get. Several times faster than `structuredClone` on the small
 * objects tenants carry.
 */
function copyJson(value: JsonValue): JsonValue {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const copy: Record<string, JsonValue> = {};
  for (const key of Object.keys(value)) {
    const item = copyJson(value[key] as JsonValue);
    // An own "__proto__" key (JSON.parse makes one) must stay a key, not become the prototype.
    if (key === "__proto__")
      Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
    else copy[key] = item;
  }
  return copy;
}

function fromCached(value: JsonValue): Tenant {
  const cached = value as unknown as CachedTenant;
  return {
    id: cached.id,
    slug: cached.slug,
    name: cached.name,
    status: cached.status,
    plan: cached.plan,
    settings: copyJson(cached.settings) as Record<string, JsonValue>,
    version: cached.version,
    createdAt: new Date(cached.createdAt),
    updatedAt: new Date(cached.updatedAt),
  };
}

/**
 * The cached form of a page: its tenants as JSON, with their timestamps as epoch milliseconds
 * (a `Date` is made from a number several times faster than parsed from ISO text, and a page has
 * a hundred of them), and the cursor of the next page if any.
 */
interface CachedPage {
  items: Array<Omit<Tenant, "createdAt" | "updatedAt"> & { createdAt: number; updatedAt: number }>;
  nextCursor?: string;
}

function toCachedPage(page: Page<Tenant>): JsonValue {
  const cached: CachedPage = {
    items: page.items.map((tenant) => ({
      ...tenant,
      createdAt: tenant.createdAt.getTime(),
      updatedAt: tenant.updatedAt.getTime(),
    })),
  };
  if (page.nextCursor !== undefined) cached.nextCursor = page.nextCursor;
  return cached as unknown as JsonValue;
}

function fromCachedPage(value: JsonValue): Page<Tenant> {
  const cached = value as unknown as CachedPage;
  const page: Page<Tenant> = {
    items: cached.items.map((item) => ({
      id: item.id,
      slug: item.slug,
      name: item.name,
      status: item.status,
      plan: item.plan,
      settings: copyJson(item.settings) as Record<string, JsonValue>,
      version: item.version,
      createdAt: new Date(item.createdAt),
      updatedAt: new Date(item.updatedAt),
    })),
  };
  if (cached.nextCursor !== undefined) page.nextCursor = cached.nextCursor;
  return page;
}

/** What a page cursor made by a repository looks like (base64url); anything else is not cached. */
const CURSOR = /^[A-Za-z0-9_-]{1,1000}$/;

/**
 * The part of a page's cache key that names the page, or `undefined` for options the wrapped
 * repository will refuse (those go straight to it, so its error is the answer).
 */
function pageName(options: ListTenantsOptions | undefined): string | undefined {
  const { status, limit, after } = options ?? {};
  if (status !== undefined && !TENANT_STATUSES.includes(status)) return undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 500)) return undefined;
  if (after !== undefined && !(typeof after === "string" && CURSOR.test(after))) return undefined;
  return `${status ?? ""}:${limit ?? ""}:${after ?? ""}`;
}

/**
 * Reads tenants, and pages of tenants, through a `Cache` and invalidates on every write made
 * through it. Depends on ports only, so it wraps any `TenantRepository` with any `Cache`. Writes
 * made by other processes are seen once the entry's TTL ends.
 *
 * Pages live under a list generation: `<prefix>list:<generation>:<status>:<limit>:<after>`, the
 * generation being a random token kept under `<prefix>list-generation`. A write replaces the token
 * once it has returned, so no page cached before it can be found again; a page loaded while the
 * write commits is cached under the old token, or under a token the write's replacement
 * overrides (the cache contract: a `set` of a key while its load runs wins). One `set` per write,
 * whatever the number of pages cached.
 */
class CachedTenantRepository implements TenantRepository {
  readonly #ttlMs: number;
  readonly #prefix: string;
  readonly #cachePages: boolean;
  readonly #generationKey: string;
  #closed = false;

  constructor(
    private readonly inner: TenantRepository,
    private readonly cache: Cache<JsonValue>,
    private readonly options: CachedTenantRepositoryOptions,
  ) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#prefix = options.keyPrefix ?? "tenant:";
    this.#cachePages = options.cachePages ?? true;
    this.#generationKey = `${this.#prefix}list-generation`;
  }

  /** A new tenant shows in pages: the cached ones are dropped, even when the write fails. */
  async create(tenant: NewTenant, options?: OperationOptions): Promise<Tenant> {
    if (this.#closed) throw closedError("cached tenant repository");
    try {
      return await this.inner.create(tenant, options);
    } finally {
      await this.#dropPages();
    }
  }

  async getById(id: string, options?: OperationOptions): Promise<Tenant> {
    if (this.#closed) throw closedError("cached tenant repository");
    return this.#readThrough(
      this.#idKey(id),
      () => this.inner.getById(id, options),
      toCached,
      fromCached,
      options,
    );
  }

  /** Slugs never change, so the cache maps slug → id, and the tenant itself lives under its id. */
  async getBySlug(slug: string, options?: OperationOptions): Promise<Tenant> {
    if (this.#closed) throw closedError("cached tenant repository");
    const slugKey = this.#slugKey(slug);
    const id = await this.#readThrough(
      slugKey,
      async () => (await this.inner.getBySlug(slug, options)).id,
      (value) => value,
      (value) => value as string,
      options,
    );
    try {
      return await this.getById(id, options);
    } catch (error) {
      // The tenant the slug pointed to was deleted; the slug may belong to a newer tenant now.
      if (!isInfrastructureError(error, "NOT_FOUND")) throw error;
      await this.cache.delete(slugKey).catch((failure: unknown) => this.#readFailed(failure, slugKey));
      return this.inner.getBySlug(slug, options);
    }
  }

  async list(options?: ListTenantsOptions): Promise<Page<Tenant>> {
    if (this.#closed) throw closedError("cached tenant repository");
    const name = this.#cachePages ? pageName(options) : undefined;
    if (name === undefined) return this.inner.list(options);
    let generation: JsonValue;
    try {
      generation = await this.cache.getOrSet(this.#generationKey, async () => randomUUID(), {
        ttlMs: this.#ttlMs,
        ...(options?.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (options?.signal?.aborted === true) throw error;
      // The cache is failing: answer from the source without trying it a second time.
      this.#readFailed(error, this.#generationKey);
      return this.inner.list(options);
    }
    return this.#readThrough(
      `${this.#prefix}list:${String(generation)}:${name}`,
      () => this.inner.list(options),
      toCachedPage,
      fromCachedPage,
      options,
    );
  }

  async update(
    id: string,
    changes: TenantChanges,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    return this.#invalidating(id, () => this.inner.update(id, changes, expectedVersion, options));
  }

  async changeStatus(
    id: string,
    status: TenantStatus,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    return this.#invalidating(id, () => this.inner.changeStatus(id, status, expectedVersion, options));
  }

  async delete(id: string, expectedVersion?: number, options?: OperationOptions): Promise<void> {
    return this.#invalidating(id, () => this.inner.delete(id, expectedVersion, options));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.options.closeInner ?? true) await this.inner.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Drops the entry and the cached pages even when the write fails: a CONFLICT means the cached
   * copy is stale, and a write whose outcome is unknown may have happened.
   */
  async #invalidating<T>(id: string, write: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError("cached tenant repository");
    try {
      return await write();
    } finally {
      const key = this.#idKey(id);
      await Promise.all([
        this.cache.delete(key).catch((error: unknown) => this.options.onInvalidationError?.(error, key)),
        this.#dropPages(),
      ]);
    }
  }

  /** A new list generation: every page cached so far becomes unreachable, and expires. */
  async #dropPages(): Promise<void> {
    if (!this.#cachePages) return;
    const key = this.#generationKey;
    await this.cache
      .set(key, randomUUID(), { ttlMs: this.#ttlMs })
      .catch((error: unknown) => this.options.onInvalidationError?.(error, key));
  }

  /**
   * Cache-aside read that never fails because of the cache: a cache error (down, timed out, closed
   * under us) is reported and the value comes from the source instead. Errors of the source itself,
   * and a cancellation by the caller, pass through unchanged.
   */
  async #readThrough<T>(
    key: string,
    load: () => Promise<T>,
    encode: (value: T) => JsonValue,
    decode: (cached: JsonValue) => T,
    options: OperationOptions | undefined,
  ): Promise<T> {
    let loaded: { value: T } | undefined;
    let sourceFailure: { error: unknown } | undefined;
    try {
      const cached = await this.cache.getOrSet(
        key,
        async () => {
          try {
            loaded = { value: await load() };
          } catch (error) {
            sourceFailure = { error };
            throw error;
          }
          return encode(loaded.value);
        },
        { ttlMs: this.#ttlMs, ...(options?.signal === undefined ? {} : { signal: options.signal }) },
      );
      return decode(cached);
    } catch (error) {
      if (sourceFailure !== undefined) throw sourceFailure.error;
      if (options?.signal?.aborted === true) throw error;
      this.#readFailed(error, key);
      // The source answered before the cache failed to store it: no need to ask it twice.
      return loaded === undefined ? load() : loaded.value;
    }
  }

  #readFailed(error: unknown, key: string): void {
    try {
      this.options.onCacheReadError?.(error, key);
    } catch {
      // A failing report must not turn the fallback into a failed read.
    }
  }

  #idKey(id: string): string {
    return `${this.#prefix}id:${id}`;
  }

  #slugKey(slug: string): string {
    return `${this.#prefix}slug:${slug}`;
  }
}

export function createCachedTenantRepository(
  inner: TenantRepository,
  cache: Cache<JsonValue>,
  options: CachedTenantRepositoryOptions = {},
): TenantRepository {
  return new CachedTenantRepository(inner, cache, options);
}
