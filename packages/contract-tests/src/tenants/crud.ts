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

export function crudTests(repository: () => TenantRepository): void {
  describe("create and read", () => {
    it("creates an active tenant at version 1 with timestamps and an id", async () => {
      const before = Date.now();
      const tenant = await repository().create(
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
    });

    it("defaults settings to an empty object", async () => {
      const { settings: _omitted, ...withoutSettings } = newTenant("no-settings");
      expect((await repository().create(withoutSettings)).settings).toEqual({});
    });

    it("gets a tenant by id and by slug", async () => {
      const created = await repository().create(newTenant("globex"));
      expect(await repository().getById(created.id)).toEqual(created);
      expect(await repository().getBySlug("globex")).toEqual(created);
    });

    it("returns NOT_FOUND for a missing id or slug", async () => {
      await expectErrorCode(repository().getById("00000000-0000-4000-8000-000000000000"), "NOT_FOUND");
      await expectErrorCode(repository().getBySlug("nobody-here"), "NOT_FOUND");
    });

    it("matches slugs exactly: another case or a trailing space names no tenant", async () => {
      await repository().create(newTenant("exact"));
      for (const variant of ["EXACT", "exact ", " exact", "Exact"]) {
        await expectErrorCode(repository().getBySlug(variant), "NOT_FOUND");
      }
    });

    it("returns copies: mutating a returned tenant changes nothing stored", async () => {
      const created = await repository().create(newTenant("copies", { settings: { list: [1] } }));
      created.name = "changed";
      (created.settings.list as number[]).push(2);
      const again = await repository().getById(created.id);
      expect(again.name).toBe("Tenant copies");
      expect(again.settings).toEqual({ list: [1] });
    });

    it("rejects a slug already in use with CONFLICT, whatever the holder's status", async () => {
      const first = await repository().create(newTenant("taken"));
      await expectErrorCode(repository().create(newTenant("taken", { name: "Other" })), "CONFLICT");
      await repository().changeStatus(first.id, "deleted", first.version);
      await expectErrorCode(repository().create(newTenant("taken")), "CONFLICT");
    });

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

    it("rejects an empty name or plan with INVALID_ARGUMENT", async () => {
      await expectErrorCode(repository().create(newTenant("no-name", { name: "" })), "INVALID_ARGUMENT");
      await expectErrorCode(repository().create(newTenant("no-plan", { plan: "" })), "INVALID_ARGUMENT");
    });
  });

  describe("update, status and delete", () => {
    it("updates only the given fields and bumps version and updatedAt", async () => {
      const created = await repository().create(newTenant("initech"));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const updated = await repository().update(created.id, { plan: "pro", settings: { seats: 50 } }, 1);
      expect(updated).toMatchObject({ name: created.name, plan: "pro", settings: { seats: 50 }, version: 2 });
      expect(updated.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
      expect(updated.createdAt).toEqual(created.createdAt);
      expect(await repository().getById(created.id)).toEqual(updated);
    });

    it("rejects a stale expectedVersion with CONFLICT naming the current version, changing nothing", async () => {
      const created = await repository().create(newTenant("stale"));
      await repository().update(created.id, { name: "First" }, 1);
      const error = await expectErrorCode(repository().update(created.id, { name: "Second" }, 1), "CONFLICT");
      expect(error.details.currentVersion).toBe(2);
      expect((await repository().getById(created.id)).name).toBe("First");
    });

    it("returns NOT_FOUND when updating, changing status of or deleting a missing tenant", async () => {
      const missing = "00000000-0000-4000-8000-000000000001";
      await expectErrorCode(repository().update(missing, { name: "x" }, 1), "NOT_FOUND");
      await expectErrorCode(repository().changeStatus(missing, "suspended", 1), "NOT_FOUND");
      await expectErrorCode(repository().delete(missing), "NOT_FOUND");
    });

    it("rejects an empty new name with INVALID_ARGUMENT", async () => {
      const created = await repository().create(newTenant("empty-rename"));
      await expectErrorCode(repository().update(created.id, { name: "" }, 1), "INVALID_ARGUMENT");
    });

    it("changes status through suspended and back to active, bumping the version", async () => {
      const created = await repository().create(newTenant("hooli"));
      const suspended = await repository().changeStatus(created.id, "suspended", 1);
      expect(suspended).toMatchObject({ status: "suspended", version: 2 });
      const active = await repository().changeStatus(created.id, "active", 2);
      expect(active).toMatchObject({ status: "active", version: 3 });
      await expectErrorCode(repository().changeStatus(created.id, "deleted", 2), "CONFLICT");
    });

    it("rejects an unknown status with INVALID_ARGUMENT", async () => {
      const created = await repository().create(newTenant("bad-status"));
      await expectErrorCode(
        repository().changeStatus(created.id, "archived" as never, 1),
        "INVALID_ARGUMENT",
      );
    });

    it("deletes for good, with an optional version check", async () => {
      const created = await repository().create(newTenant("doomed"));
      await expectErrorCode(repository().delete(created.id, 7), "CONFLICT");
      await repository().delete(created.id, 1);
      await expectErrorCode(repository().getById(created.id), "NOT_FOUND");
      const again = await repository().create(newTenant("doomed"));
      await repository().delete(again.id);
      await expectErrorCode(repository().getBySlug("doomed"), "NOT_FOUND");
    });

    it("fails with CLOSED after close, and close is idempotent", async () => {
      const adapter = repository();
      await adapter.close();
      await adapter.close();
      await expectErrorCode(adapter.getBySlug("anything"), "CLOSED");
    });
  });
}
