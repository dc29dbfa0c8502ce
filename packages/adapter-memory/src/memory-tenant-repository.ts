import { randomUUID } from "node:crypto";
import {
  closedError,
  InfrastructureError,
  isValidTenantSlug,
  type ListTenantsOptions,
  type NewTenant,
  type Page,
  TENANT_STATUSES,
  type Tenant,
  type TenantChanges,
  type TenantRepository,
  type TenantStatus,
  throwIfAborted,
} from "@proj/ports";

export interface MemoryTenantRepositoryOptions {
  /** Clock for `createdAt`/`updatedAt`; tests may pass their own. Default `() => new Date()`. */
  now?: () => Date;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

function copyTenant(tenant: Tenant): Tenant {
  return {
    ...tenant,
    settings: structuredClone(tenant.settings),
    createdAt: new Date(tenant.createdAt),
    updatedAt: new Date(tenant.updatedAt),
  };
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim().length === 0) {
    throw new InfrastructureError("INVALID_ARGUMENT", `tenant ${field} must be a non-empty string`);
  }
  return value;
}

function encodeCursor(tenant: Tenant): string {
  return Buffer.from(JSON.stringify([tenant.createdAt.getTime(), tenant.id])).toString("base64url");
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && typeof parsed[0] === "number" && typeof parsed[1] === "string") {
      return [parsed[0], parsed[1]];
    }
  } catch {
    // falls through to the error below
  }
  throw new InfrastructureError("INVALID_ARGUMENT", "tenant list cursor is not valid");
}

function byCreation(a: Tenant, b: Tenant): number {
  return a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * A `TenantRepository` held in memory: the reference the contract suite is proven on, and a
 * faithful double for unit tests of code that uses the port.
 */
class MemoryTenantRepository implements TenantRepository {
  readonly #byId = new Map<string, Tenant>();
  readonly #idBySlug = new Map<string, string>();
  readonly #now: () => Date;
  #closed = false;

  constructor(options: MemoryTenantRepositoryOptions) {
    this.#now = options.now ?? (() => new Date());
  }

  async create(input: NewTenant, options?: { signal?: AbortSignal }): Promise<Tenant> {
    this.#check(options?.signal, "create tenant");
    if (!isValidTenantSlug(input.slug)) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        "tenant slug must be 3-63 lower-case letters, digits and inner hyphens",
      );
    }
    const name = requireText(input.name, "name");
    const plan = requireText(input.plan, "plan");
    if (this.#idBySlug.has(input.slug)) {
      throw new InfrastructureError("CONFLICT", `tenant slug "${input.slug}" is already in use`, {
        details: { slug: input.slug },
      });
    }
    const now = this.#now();
    const tenant: Tenant = {
      id: randomUUID(),
      slug: input.slug,
      name,
      plan,
      status: "active",
      settings: structuredClone(input.settings ?? {}),
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    this.#byId.set(tenant.id, tenant);
    this.#idBySlug.set(tenant.slug, tenant.id);
    return copyTenant(tenant);
  }

  async getById(id: string, options?: { signal?: AbortSignal }): Promise<Tenant> {
    this.#check(options?.signal, "get tenant");
    return copyTenant(this.#find(id));
  }

  async getBySlug(slug: string, options?: { signal?: AbortSignal }): Promise<Tenant> {
    this.#check(options?.signal, "get tenant");
    const id = this.#idBySlug.get(slug);
    if (id === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with slug "${slug}"`);
    return copyTenant(this.#find(id));
  }

  async list(options: ListTenantsOptions = {}): Promise<Page<Tenant>> {
    this.#check(options.signal, "list tenants");
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `tenant list limit must be an integer from 1 to ${MAX_LIMIT}`,
      );
    }
    const after = options.after === undefined ? undefined : decodeCursor(options.after);
    const matching = [...this.#byId.values()]
      .filter((t) => options.status === undefined || t.status === options.status)
      .filter(
        (t) =>
          after === undefined ||
          t.createdAt.getTime() > after[0] ||
          (t.createdAt.getTime() === after[0] && t.id > after[1]),
      )
      .sort(byCreation);
    const items = matching.slice(0, limit).map(copyTenant);
    const last = items.at(-1);
    return matching.length > limit && last ? { items, nextCursor: encodeCursor(last) } : { items };
  }

  async update(
    id: string,
    changes: TenantChanges,
    expectedVersion: number,
    options?: { signal?: AbortSignal },
  ): Promise<Tenant> {
    this.#check(options?.signal, "update tenant");
    const tenant = this.#findAtVersion(id, expectedVersion);
    const next: Tenant = {
      ...tenant,
      name: changes.name === undefined ? tenant.name : requireText(changes.name, "name"),
      plan: changes.plan === undefined ? tenant.plan : requireText(changes.plan, "plan"),
      settings: changes.settings === undefined ? tenant.settings : structuredClone(changes.settings),
    };
    return this.#save(next);
  }

  async changeStatus(
    id: string,
    status: TenantStatus,
    expectedVersion: number,
    options?: { signal?: AbortSignal },
  ): Promise<Tenant> {
    this.#check(options?.signal, "change tenant status");
    if (!TENANT_STATUSES.includes(status)) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `tenant status must be one of ${TENANT_STATUSES.join(", ")}`,
      );
    }
    return this.#save({ ...this.#findAtVersion(id, expectedVersion), status });
  }

  async delete(id: string, expectedVersion?: number, options?: { signal?: AbortSignal }): Promise<void> {
    this.#check(options?.signal, "delete tenant");
    const tenant = expectedVersion === undefined ? this.#find(id) : this.#findAtVersion(id, expectedVersion);
    this.#byId.delete(tenant.id);
    this.#idBySlug.delete(tenant.slug);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #check(signal: AbortSignal | undefined, what: string): void {
    if (this.#closed) throw closedError("memory tenant repository");
    throwIfAborted(signal, what);
  }

  #find(id: string): Tenant {
    const tenant = this.#byId.get(id);
    if (tenant === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with id "${id}"`);
    return tenant;
  }

  #findAtVersion(id: string, expectedVersion: number): Tenant {
    const tenant = this.#find(id);
    if (tenant.version !== expectedVersion) {
      throw new InfrastructureError(
        "CONFLICT",
        `tenant "${id}" is at version ${tenant.version}, not ${expectedVersion}`,
        {
          details: { currentVersion: tenant.version, expectedVersion },
        },
      );
    }
    return tenant;
  }

  #save(next: Tenant): Tenant {
    const stored: Tenant = { ...next, version: next.version + 1, updatedAt: this.#laterThan(next.updatedAt) };
    this.#byId.set(stored.id, stored);
    return copyTenant(stored);
  }

  /** A strictly later timestamp, so `updatedAt` moves even when two writes share a millisecond. */
  #laterThan(previous: Date): Date {
    const now = this.#now();
    return now.getTime() > previous.getTime() ? now : new Date(previous.getTime() + 1);
  }
}

export function createMemoryTenantRepository(options: MemoryTenantRepositoryOptions = {}): TenantRepository {
  return new MemoryTenantRepository(options);
}
