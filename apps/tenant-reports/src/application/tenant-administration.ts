import type { ListTenantsOptions, NewTenant, Page, Principal, Tenant, TenantRepository } from "@proj/ports";
import { requireAdmin } from "./access.js";

/** Tenant administration use cases: admins only. */
export class TenantAdministration {
  /** `tenants` should read through a cache: tenant master data is read on every request. */
  constructor(private readonly tenants: TenantRepository) {}

  async create(caller: Principal, tenant: NewTenant): Promise<Tenant> {
    requireAdmin(caller);
    return this.tenants.create(tenant);
  }

  async get(caller: Principal, id: string): Promise<Tenant> {
    if (caller.tenantId !== id) requireAdmin(caller);
    return this.tenants.getById(id);
  }

  async list(caller: Principal, options: ListTenantsOptions): Promise<Page<Tenant>> {
    requireAdmin(caller);
    return this.tenants.list(options);
  }

  async suspend(caller: Principal, id: string, expectedVersion: number): Promise<Tenant> {
    requireAdmin(caller);
    return this.tenants.changeStatus(id, "suspended", expectedVersion);
  }

  async reactivate(caller: Principal, id: string, expectedVersion: number): Promise<Tenant> {
    requireAdmin(caller);
    return this.tenants.changeStatus(id, "active", expectedVersion);
  }
}
