import {
  type Cache,
  closedError,
  isInfrastructureError,
  type JsonValue,
  type ListTenantsOptions,
  type NewTenant,
  type OperationOptions,
  type Page,
  type Tenant,
  type TenantChanges,
  type TenantRepository,
  type TenantStatus,
} from "@proj/ports";

export interface CachedTenantRepositoryOptions {
  /** How long a cached tenant may be served, in ms (default 60 000). Bounds staleness across processes. */
  ttlMs?: number;
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

function fromCached(value: JsonValue): Tenant {
  const cached = value as unknown as CachedTenant;
  return {
    ...cached,
    settings: structuredClone(cached.settings),
    createdAt: new Date(cached.createdAt),
    updatedAt: new Date(cached.updatedAt),
  };
}

/**
 * Reads tenants through a `Cache` and invalidates on every write made through it. Depends on ports
 * only, so it wraps any `TenantRepository` with any `Cache`. Writes made by other processes are
 * seen once the entry's TTL ends.
 */
class CachedTenantRepository implements TenantRepository {
  readonly #ttlMs: number;
  readonly #prefix: string;
  #closed = false;

  constructor(
    private readonly inner: TenantRepository,
    private readonly cache: Cache<JsonValue>,
    private readonly options: CachedTenantRepositoryOptions,
  ) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#prefix = options.keyPrefix ?? "tenant:";
  }

  async create(tenant: NewTenant, options?: OperationOptions): Promise<Tenant> {
    if (this.#closed) throw closedError("cached tenant repository");
    return this.inner.create(tenant, options);
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
    return this.inner.list(options);
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

  /** Drops the entry even when the write fails: a CONFLICT means the cached copy is stale. */
  async #invalidating<T>(id: string, write: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError("cached tenant repository");
    try {
      return await write();
    } finally {
      const key = this.#idKey(id);
      await this.cache.delete(key).catch((error: unknown) => this.options.onInvalidationError?.(error, key));
    }
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
