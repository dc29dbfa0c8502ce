import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { InfrastructureError, type Tenant, type TenantRepository } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createAndReadChecks, type TenantCheck, updateChecks } from "../src/tenants/crud.js";

/*
 * The TenantRepository checks must fail a repository that is wrong in one way each: the memory
 * reference with one deliberate flaw. The honest reference passes them all in tenants.test.ts.
 */

const checks: Readonly<Record<string, TenantCheck>> = { ...createAndReadChecks, ...updateChecks };

function lax(flaw: (repository: TenantRepository) => Partial<TenantRepository>): () => TenantRepository {
  return () => {
    const honest = createMemoryTenantRepository();
    const overrides = flaw(honest);
    return new Proxy(honest, {
      get(target, key) {
        if (Object.hasOwn(overrides, key)) return overrides[key as keyof TenantRepository];
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
}

/** Keeps handing out the object it returned first for an id, as a cache without copies would. */
function sharing(honest: TenantRepository): Partial<TenantRepository> {
  const handedOut = new Map<string, Tenant>();
  const shared = (tenant: Tenant) => {
    const first = handedOut.get(tenant.id) ?? tenant;
    handedOut.set(tenant.id, first);
    return first;
  };
  return {
    create: async (tenant, options) => shared(await honest.create(tenant, options)),
    getById: async (id, options) => shared(await honest.getById(id, options)),
  };
}

const LAX: Record<string, { repository: () => TenantRepository; fails: string[] }> = {
  "merges settings on update": {
    repository: lax((honest) => ({
      update: async (id, changes, expectedVersion, options) => {
        const current = await honest.getById(id);
        const settings = changes.settings && { ...current.settings, ...changes.settings };
        return honest.update(id, { ...changes, settings }, expectedVersion, options);
      },
    })),
    fails: ["replaces settings as a whole: keys left out of the new settings are gone, not merged"],
  },
  "clears settings on an update that does not name them": {
    repository: lax((honest) => ({
      update: (id, changes, expectedVersion, options) =>
        honest.update(id, { settings: {}, ...changes }, expectedVersion, options),
    })),
    fails: ["updates only the given fields and bumps version and updatedAt"],
  },
  "returns the stored object instead of a copy": {
    repository: lax(sharing),
    fails: ["returns copies: mutating a returned tenant changes nothing stored"],
  },
  "leaves settings undefined when none are given": {
    repository: lax((honest) => ({
      create: async (tenant, options) => {
        const created = await honest.create(tenant, options);
        return tenant.settings === undefined ? { ...created, settings: undefined as never } : created;
      },
    })),
    fails: ["defaults settings to an empty object"],
  },
  "finds slugs whatever their case": {
    repository: lax((honest) => ({
      getBySlug: (slug, options) => honest.getBySlug(slug.trim().toLowerCase(), options),
    })),
    fails: ["matches slugs exactly: another case or a trailing space names no tenant"],
  },
  "reports a missing tenant as INTERNAL": {
    repository: lax((honest) => ({
      getById: (id, options) =>
        honest.getById(id, options).catch((error: unknown) => {
          throw new InfrastructureError("INTERNAL", "lookup failed", { cause: error });
        }),
    })),
    fails: ["returns NOT_FOUND for a missing id or slug"],
  },
  "omits currentVersion from a version conflict": {
    repository: lax((honest) => ({
      update: (id, changes, expectedVersion, options) =>
        honest.update(id, changes, expectedVersion, options).catch((error: unknown) => {
          throw new InfrastructureError("CONFLICT", "stale", { cause: error });
        }),
    })),
    fails: ["rejects a stale expectedVersion with CONFLICT naming the current version, changing nothing"],
  },
  "does not bump updatedAt": {
    repository: lax((honest) => ({
      update: async (id, changes, expectedVersion, options) => {
        const updated = await honest.update(id, changes, expectedVersion, options);
        return { ...updated, updatedAt: updated.createdAt };
      },
    })),
    fails: ["updates only the given fields and bumps version and updatedAt"],
  },
  "changes status whatever the expected version": {
    repository: lax((honest) => ({
      changeStatus: async (id, status, _expectedVersion, options) =>
        honest.changeStatus(id, status, (await honest.getById(id)).version, options),
    })),
    fails: ["changes status through suspended and back to active, bumping the version"],
  },
  "deletes whatever the expected version": {
    repository: lax((honest) => ({
      delete: (id, _expectedVersion, options) => honest.delete(id, undefined, options),
    })),
    fails: ["deletes for good, with an optional version check"],
  },
  "accepts an empty new name": {
    repository: lax((honest) => ({
      update: (id, changes, expectedVersion, options) =>
        honest.update(id, { ...changes, name: changes.name || undefined }, expectedVersion, options),
    })),
    fails: ["rejects an empty new name with INVALID_ARGUMENT"],
  },
  "refuses a second close": {
    repository: lax((honest) => {
      let closed = false;
      return {
        close: async () => {
          if (closed) throw new Error("already closed");
          closed = true;
          await honest.close();
        },
      };
    }),
    fails: ["fails with CLOSED after close, and close is idempotent"],
  },
};

describe("the TenantRepository checks fail a deliberately lax repository", () => {
  it("every check named below exists", () => {
    for (const { fails } of Object.values(LAX))
      for (const name of fails) expect(Object.keys(checks)).toContain(name);
  });

  it.each(Object.entries(LAX))("%s", async (_flaw, { repository, fails }) => {
    for (const name of fails) await expect(checks[name]!(repository()), name).rejects.toThrow();
  });
});
