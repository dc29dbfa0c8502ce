import type { NewTenant, TenantRepository } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";

export function newTenant(slug: string, overrides: Partial<NewTenant> = {}): NewTenant {
  return {
    slug,
    name: `Tenant ${slug}`,
    plan: "starter",
    settings: { locale: "en", seats: 5 },
    ...overrides,
  };
}

/** One contract check: resolves for a conforming repository, throws for one that breaks the rule. */
export type TenantCheck = (repository: TenantRepository) => Promise<void>;

/** Creating and reading tenants; each check gets an empty repository. */
export const createAndReadChecks: Readonly<Record<string, TenantCheck>> = {
  "creates an active tenant at version 1 with timestamps and an id": async (repository) => {
    const before = Date.now();
    const tenant = await repository.create(
      newTenant("acme", { settings: { nested: { a: [1, "x", null] } } }),
    );
    expect(tenant).toMatchObject({
      slug: "acme",
      name: "Tenant acme",
      plan: "starter",
      status: "active",
      version: 1,
    });
    expect(tenant.settings).toEqual({ nested: { a: [1, "x", null] } });
    expect(typeof tenant.id).toBe("string");
    expect(tenant.id.length).toBeGreaterThan(0);
    expect(tenant.createdAt).toBeInstanceOf(Date);
    expect(tenant.createdAt.getTime()).toBeGreaterThanOrEqual(before - 5_000);
    expect(tenant.updatedAt.getTime()).toBe(tenant.createdAt.getTime());
  },
  "defaults settings to an empty object": async (repository) => {
    const { settings: _omitted, ...withoutSettings } = newTenant("no-settings");
    expect((await repository.create(withoutSettings)).settings).toEqual({});
  },
  "gets a tenant by id and by slug": async (repository) => {
    const created = await repository.create(newTenant("globex"));
    expect(await repository.getById(created.id)).toEqual(created);
    expect(await repository.getBySlug("globex")).toEqual(created);
  },
  "returns NOT_FOUND for a missing id or slug": async (repository) => {
    await expectErrorCode(repository.getById("00000000-0000-4000-8000-000000000000"), "NOT_FOUND");
    await expectErrorCode(repository.getBySlug("nobody-here"), "NOT_FOUND");
  },
  "matches slugs exactly: another case or a trailing space names no tenant": async (repository) => {
    await repository.create(newTenant("exact"));
    for (const variant of ["EXACT", "exact ", " exact", "Exact"]) {
      await expectErrorCode(repository.getBySlug(variant), "NOT_FOUND");
    }
  },
  "returns copies: mutating a returned tenant changes nothing stored": async (repository) => {
    const created = await repository.create(newTenant("copies", { settings: { list: [1] } }));
    created.name = "changed";
    (created.settings.list as number[]).push(2);
    const again = await repository.getById(created.id);
    expect(again.name).toBe("Tenant copies");
    expect(again.settings).toEqual({ list: [1] });
  },
  "rejects a slug already in use with CONFLICT, whatever the holder's status": async (repository) => {
    const first = await repository.create(newTenant("taken"));
    await expectErrorCode(repository.create(newTenant("taken", { name: "Other" })), "CONFLICT");
    await repository.changeStatus(first.id, "deleted", first.version);
    await expectErrorCode(repository.create(newTenant("taken")), "CONFLICT");
  },
  "rejects an empty name or plan with INVALID_ARGUMENT": async (repository) => {
    await expectErrorCode(repository.create(newTenant("no-name", { name: "" })), "INVALID_ARGUMENT");
    await expectErrorCode(repository.create(newTenant("no-plan", { plan: "" })), "INVALID_ARGUMENT");
  },
};

/** Updating, changing status, deleting and closing; each check gets an empty repository. */
export const updateChecks: Readonly<Record<string, TenantCheck>> = {
  "updates only the given fields and bumps version and updatedAt": async (repository) => {
    const created = await repository.create(newTenant("initech"));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const updated = await repository.update(created.id, { plan: "pro" }, 1);
    expect(updated).toMatchObject({ name: created.name, plan: "pro", version: 2 });
    expect(updated.settings).toEqual(created.settings);
    expect(updated.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
    expect(updated.createdAt).toEqual(created.createdAt);
    expect(await repository.getById(created.id)).toEqual(updated);
  },
  "replaces settings as a whole: keys left out of the new settings are gone, not merged": async (
    repository,
  ) => {
    const created = await repository.create(
      newTenant("replaced", { settings: { locale: "en", seats: 5, nested: { a: 1, b: 2 } } }),
    );
    const updated = await repository.update(created.id, { settings: { seats: 50, nested: { a: 3 } } }, 1);
    expect(updated.settings).toStrictEqual({ seats: 50, nested: { a: 3 } });
    expect((await repository.getById(created.id)).settings).toStrictEqual({
      seats: 50,
      nested: { a: 3 },
    });
    const cleared = await repository.update(created.id, { settings: {} }, 2);
    expect(cleared.settings).toStrictEqual({});
    expect((await repository.getBySlug("replaced")).settings).toStrictEqual({});
  },
  "rejects a stale expectedVersion with CONFLICT naming the current version, changing nothing": async (
    repository,
  ) => {
    const created = await repository.create(newTenant("stale"));
    await repository.update(created.id, { name: "First" }, 1);
    const error = await expectErrorCode(repository.update(created.id, { name: "Second" }, 1), "CONFLICT");
    expect(error.details.currentVersion).toBe(2);
    expect((await repository.getById(created.id)).name).toBe("First");
  },
  "returns NOT_FOUND when updating, changing status of or deleting a missing tenant": async (repository) => {
    const missing = "00000000-0000-4000-8000-000000000001";
    await expectErrorCode(repository.update(missing, { name: "x" }, 1), "NOT_FOUND");
    await expectErrorCode(repository.changeStatus(missing, "suspended", 1), "NOT_FOUND");
    await expectErrorCode(repository.delete(missing), "NOT_FOUND");
  },
  "rejects an empty new name with INVALID_ARGUMENT": async (repository) => {
    const created = await repository.create(newTenant("empty-rename"));
    await expectErrorCode(repository.update(created.id, { name: "" }, 1), "INVALID_ARGUMENT");
  },
  "changes status through suspended and back to active, bumping the version": async (repository) => {
    const created = await repository.create(newTenant("hooli"));
    const suspended = await repository.changeStatus(created.id, "suspended", 1);
    expect(suspended).toMatchObject({ status: "suspended", version: 2 });
    const active = await repository.changeStatus(created.id, "active", 2);
    expect(active).toMatchObject({ status: "active", version: 3 });
    await expectErrorCode(repository.changeStatus(created.id, "deleted", 2), "CONFLICT");
  },
  "rejects an unknown status with INVALID_ARGUMENT": async (repository) => {
    const created = await repository.create(newTenant("bad-status"));
    await expectErrorCode(repository.changeStatus(created.id, "archived" as never, 1), "INVALID_ARGUMENT");
  },
  "deletes for good, with an optional version check": async (repository) => {
    const created = await repository.create(newTenant("doomed"));
    await expectErrorCode(repository.delete(created.id, 7), "CONFLICT");
    await repository.delete(created.id, 1);
    await expectErrorCode(repository.getById(created.id), "NOT_FOUND");
    const again = await repository.create(newTenant("doomed"));
    await repository.delete(again.id);
    await expectErrorCode(repository.getBySlug("doomed"), "NOT_FOUND");
  },
  "fails with CLOSED after close, and close is idempotent": async (repository) => {
    await repository.close();
    await repository.close();
    await expectErrorCode(repository.getBySlug("anything"), "CLOSED");
  },
};

export function crudTests(repository: () => TenantRepository): void {
  describe("create and read", () => {
    for (const [name, check] of Object.entries(createAndReadChecks)) it(name, () => check(repository()));
    it.each([
      "",
      "ab",
      "Upper",
      "has space",
      "-lead",
      "trail-",
      "double--hyphen",
      "x".repeat(64),
      "under_score",
    ])("rejects the invalid slug %j with INVALID_ARGUMENT", async (slug) => {
      await expectErrorCode(repository().create(newTenant(slug)), "INVALID_ARGUMENT");
    });
  });

  describe("update, status and delete", () => {
    for (const [name, check] of Object.entries(updateChecks)) it(name, () => check(repository()));
  });
}
