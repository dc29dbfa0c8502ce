import type { Tenant, TenantRepository } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { newTenant, type TenantCheck } from "./crud.js";

async function listAll(repository: TenantRepository, options: { status?: Tenant["status"]; limit: number }) {
  const seen: Tenant[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await repository.list({ ...options, after });
    expect(page.items.length).toBeLessThanOrEqual(options.limit);
    seen.push(...page.items);
    if (page.nextCursor === undefined) return seen;
    after = page.nextCursor;
  }
  throw new Error("listing did not end within 100 pages");
}

/** Listing and paging; each check gets an empty repository. */
export const listChecks: Readonly<Record<string, TenantCheck>> = {
  "pages through every tenant once, ordered by creation then id": async (repository) => {
    const created: Tenant[] = [];
    for (let i = 0; i < 7; i++) created.push(await repository.create(newTenant(`page-${i}`)));
    const seen = await listAll(repository, { limit: 3 });
    expect(new Set(seen.map((t) => t.id))).toEqual(new Set(created.map((t) => t.id)));
    expect(seen).toHaveLength(created.length);
    const sorted = [...seen].sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1),
    );
    expect(seen).toEqual(sorted);
  },
  "filters by status": async (repository) => {
    const a = await repository.create(newTenant("status-a"));
    await repository.create(newTenant("status-b"));
    const c = await repository.create(newTenant("status-c"));
    await repository.changeStatus(a.id, "suspended", 1);
    await repository.changeStatus(c.id, "suspended", 1);
    const suspended = await listAll(repository, { status: "suspended", limit: 1 });
    expect(suspended.map((t) => t.slug).sort()).toEqual(["status-a", "status-c"]);
    expect((await listAll(repository, { status: "active", limit: 10 })).map((t) => t.slug)).toEqual([
      "status-b",
    ]);
  },
  "returns an empty last page without a cursor when there is nothing": async (repository) => {
    expect(await repository.list({ limit: 10 })).toEqual({ items: [] });
  },
  "rejects a limit outside 1..500 and a forged cursor with INVALID_ARGUMENT": async (repository) => {
    await expectErrorCode(repository.list({ limit: 0 }), "INVALID_ARGUMENT");
    await expectErrorCode(repository.list({ limit: 501 }), "INVALID_ARGUMENT");
    await expectErrorCode(repository.list({ after: "not a cursor" }), "INVALID_ARGUMENT");
  },
};

export function listTests(repository: () => TenantRepository): void {
  describe("list", () => {
    for (const [name, check] of Object.entries(listChecks)) it(name, () => check(repository()));
  });
}
