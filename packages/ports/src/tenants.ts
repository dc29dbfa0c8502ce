import type { Closeable, JsonValue, OperationOptions, Page } from "./resources.js";

export type TenantStatus = "active" | "suspended" | "deleted";

export const TENANT_STATUSES: readonly TenantStatus[] = ["active", "suspended", "deleted"];

export interface Tenant {
  /** Assigned by the repository; opaque string (a UUID in the shipped adapters). */
  id: string;
  /** Unique, URL-safe, see `isValidTenantSlug`. */
  slug: string;
  name: string;
  status: TenantStatus;
  plan: string;
  settings: Record<string, JsonValue>;
  /** 1 on creation, +1 on every change. The token for optimistic concurrency. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewTenant {
  slug: string;
  name: string;
  plan: string;
  settings?: Record<string, JsonValue>;
}

export interface TenantChanges {
  name?: string;
  plan?: string;
  /** Replaces the stored settings as a whole, never merged into them; omit it to keep them. */
  settings?: Record<string, JsonValue>;
}

export interface ListTenantsOptions extends OperationOptions {
  status?: TenantStatus;
  /** 1 to 500, default 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  after?: string;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/;

/** 3 to 63 characters of lower-case letters, digits and inner hyphens, no `--`. */
export function isValidTenantSlug(slug: string): boolean {
  return typeof slug === "string" && SLUG.test(slug) && !slug.includes("--");
}

/**
 * Tenants and their master data.
 *
 * Contract:
 * - `create` validates (slug per `isValidTenantSlug`, non-empty name and plan, else
 *   `INVALID_ARGUMENT`), stores with status `active` and version 1, and returns the tenant. A slug
 *   in use by any tenant, whatever its status, is `CONFLICT`.
 * - `getById`/`getBySlug` return the tenant or reject with `NOT_FOUND`. Returned tenants are
 *   copies: changing one changes nothing stored.
 * - `list` returns tenants ordered by `createdAt` then `id`, optionally of one status, with a
 *   cursor; paging through visits every tenant once.
 * - `update` and `changeStatus` apply only if the stored version equals `expectedVersion`,
 *   else `CONFLICT` (with `details.currentVersion`); they bump `version` and `updatedAt`. A missing
 *   tenant is `NOT_FOUND`. Of two concurrent writers with the same expected version, exactly one
 *   succeeds.
 * - `delete` removes the tenant for good (same version check when given); missing is `NOT_FOUND`.
 */
export interface TenantRepository extends Closeable {
  create(tenant: NewTenant, options?: OperationOptions): Promise<Tenant>;
  getById(id: string, options?: OperationOptions): Promise<Tenant>;
  getBySlug(slug: string, options?: OperationOptions): Promise<Tenant>;
  list(options?: ListTenantsOptions): Promise<Page<Tenant>>;
  update(
    id: string,
    changes: TenantChanges,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant>;
  changeStatus(
    id: string,
    status: TenantStatus,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant>;
  delete(id: string, expectedVersion?: number, options?: OperationOptions): Promise<void>;
}
