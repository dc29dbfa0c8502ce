import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { InfrastructureError, isInfrastructureError, type Tenant, type TenantRepository } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { concurrencyChecks } from "../src/tenants/concurrency.js";
import { createAndReadChecks, type TenantCheck, updateChecks } from "../src/tenants/crud.js";
import { listChecks } from "../src/tenants/list.js";

/*
 * The TenantRepository checks must fail a repository that is wrong in one way each: the memory
 * reference with one deliberate flaw. The honest reference passes them all in tenants.test.ts.
 */

const checks: Readonly<Record<string, TenantCheck>> = {
  ...createAndReadChecks,
  ...updateChecks,
  ...listChecks,
  ...concurrencyChecks,
};

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
  "ignores the page limit": {
    repository: lax((honest) => ({
      list: (options) => honest.list({ ...options, limit: 500 }),
    })),
    fails: ["pages through every tenant once, ordered by creation then id"],
  },
  "lists newest first": {
    repository: lax((honest) => ({
      list: async (options) => {
        const page = await honest.list({ ...options, limit: 500 });
        const items = page.items.reverse().slice(0, options?.limit ?? 50);
        return { items };
      },
    })),
    fails: ["pages through every tenant once, ordered by creation then id"],
  },
  "orders each page backwards": {
    repository: lax((honest) => ({
      list: async (options) => {
        const page = await honest.list(options);
        return { ...page, items: page.items.reverse() };
      },
    })),
    fails: ["pages through every tenant once, ordered by creation then id"],
  },
  "ignores the status filter": {
    repository: lax((honest) => ({
      list: (options) => honest.list({ ...options, status: undefined }),
    })),
    fails: ["filters by status"],
  },
  "hands out a cursor on an empty last page": {
    repository: lax((honest) => ({
      list: async (options) => {
        const page = await honest.list(options);
        return page.items.length === 0 ? { ...page, nextCursor: "end" } : page;
      },
    })),
    fails: ["returns an empty last page without a cursor when there is nothing"],
  },
  "clamps a limit out of range instead of refusing it": {
    repository: lax((honest) => ({
      list: (options) => honest.list({ ...options, limit: Math.min(500, Math.max(1, options?.limit ?? 50)) }),
    })),
    fails: ["rejects a limit outside 1..500 and a forged cursor with INVALID_ARGUMENT"],
  },
  "lets the last writer win": {
    repository: lax((honest) => ({
      update: async (id, changes, _expectedVersion, options) => {
        // Retries on the current version until it lands: the expected version is never checked.
        for (;;) {
          try {
            return await honest.update(id, changes, (await honest.getById(id)).version, options);
          } catch (error) {
            if (!isInfrastructureError(error, "CONFLICT")) throw error;
          }
        }
      },
    })),
    fails: [
      "lets exactly one of many concurrent writers with the same expected version win",
      "loses no update when writers retry on CONFLICT",
    ],
  },
  "reports a version conflict as INTERNAL": {
    repository: lax((honest) => ({
      update: (id, changes, expectedVersion, options) =>
        honest.update(id, changes, expectedVersion, options).catch((error: unknown) => {
          throw new InfrastructureError("INTERNAL", "update failed", { cause: error });
        }),
    })),
    fails: [
      "lets exactly one of many concurrent writers with the same expected version win",
      "loses no update when writers retry on CONFLICT",
    ],
  },
  "reports a taken slug as INTERNAL": {
    repository: lax((honest) => ({
      create: (tenant, options) =>
        honest.create(tenant, options).catch((error: unknown) => {
          throw new InfrastructureError("INTERNAL", "create failed", { cause: error });
        }),
    })),
    fails: [
      "admits one of two concurrent creates of the same slug",
      "rejects a slug already in use with CONFLICT, whatever the holder's status",
    ],
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
