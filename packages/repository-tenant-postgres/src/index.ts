export {
  type CachedTenantRepositoryOptions,
  createCachedTenantRepository,
} from "./cached-tenant-repository.js";
export { type Migration, migrateTenantSchema, TENANT_MIGRATIONS } from "./migrations.js";
export {
  createSqlTenantRepository,
  type SqlTenantRepository,
  type SqlTenantRepositoryOptions,
} from "./sql-tenant-repository.js";
export { type RunAsTenantOptions, runAsTenant } from "./tenant-isolation.js";
