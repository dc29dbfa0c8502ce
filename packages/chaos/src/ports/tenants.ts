import type { TenantRepository } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { intercept } from "../intercept.js";

/**
 * A `TenantRepository` with faults injected by `chaos` (or a chaos made from these options). Keys:
 * the tenant's id (`getBySlug` and `create`: its slug); `list` has none.
 */
export function withChaosTenantRepository(
  tenants: TenantRepository,
  chaos: Chaos | ChaosOptions,
): TenantRepository {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("tenants", operation);
  const create = site("create");
  const getById = site("getById");
  const getBySlug = site("getBySlug");
  const list = site("list");
  const update = site("update");
  const changeStatus = site("changeStatus");
  const del = site("delete");
  return {
    create: (tenant, options) =>
      intercept(
        create,
        () => (typeof tenant?.slug === "string" ? tenant.slug : undefined),
        options?.signal,
        () => tenants.create(tenant, options),
      ),
    getById: (id, options) =>
      intercept(
        getById,
        () => id,
        options?.signal,
        () => tenants.getById(id, options),
      ),
    getBySlug: (slug, options) =>
      intercept(
        getBySlug,
        () => slug,
        options?.signal,
        () => tenants.getBySlug(slug, options),
      ),
    list: (options) => intercept(list, undefined, options?.signal, () => tenants.list(options)),
    update: (id, changes, expectedVersion, options) =>
      intercept(
        update,
        () => id,
        options?.signal,
        () => tenants.update(id, changes, expectedVersion, options),
      ),
    changeStatus: (id, status, expectedVersion, options) =>
      intercept(
        changeStatus,
        () => id,
        options?.signal,
        () => tenants.changeStatus(id, status, expectedVersion, options),
      ),
    delete: (id, expectedVersion, options) =>
      intercept(
        del,
        () => id,
        options?.signal,
        () => tenants.delete(id, expectedVersion, options),
      ),
    close: () => tenants.close(),
    [Symbol.asyncDispose]: () => tenants.close(),
  };
}
