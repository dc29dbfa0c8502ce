import type { TenantRepository } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { withSignal } from "../shared.js";

/**
 * A `TenantRepository` whose calls go through `policy` (or a policy made from these options).
 *
 * Retried: `getById`, `getBySlug`, `list`. Never retried: `create`, `update`, `changeStatus` and
 * `delete`: a second attempt after a first that took effect reports `CONFLICT` or `NOT_FOUND` for
 * the caller's own change.
 */
export function withResilienceTenantRepository(
  tenants: TenantRepository,
  policy: ResiliencePolicy | ResilienceOptions = {},
): TenantRepository {
  const p = policyOf(policy);
  const op = (name: string, idempotent: boolean) => p.operation("tenants", name, { idempotent });
  const create = op("create", false);
  const getById = op("getById", true);
  const getBySlug = op("getBySlug", true);
  const list = op("list", true);
  const update = op("update", false);
  const changeStatus = op("changeStatus", false);
  const del = op("delete", false);
  return {
    create: (tenant, options) =>
      p.run(create, options?.signal, (signal) => tenants.create(tenant, withSignal(options, signal))),
    getById: (id, options) =>
      p.run(getById, options?.signal, (signal) => tenants.getById(id, withSignal(options, signal))),
    getBySlug: (slug, options) =>
      p.run(getBySlug, options?.signal, (signal) => tenants.getBySlug(slug, withSignal(options, signal))),
    list: (options) => p.run(list, options?.signal, (signal) => tenants.list(withSignal(options, signal))),
    update: (id, changes, expectedVersion, options) =>
      p.run(update, options?.signal, (signal) =>
        tenants.update(id, changes, expectedVersion, withSignal(options, signal)),
      ),
    changeStatus: (id, status, expectedVersion, options) =>
      p.run(changeStatus, options?.signal, (signal) =>
        tenants.changeStatus(id, status, expectedVersion, withSignal(options, signal)),
      ),
    delete: (id, expectedVersion, options) =>
      p.run(del, options?.signal, (signal) =>
        tenants.delete(id, expectedVersion, withSignal(options, signal)),
      ),
    close: () => tenants.close(),
    [Symbol.asyncDispose]: () => tenants.close(),
  };
}
