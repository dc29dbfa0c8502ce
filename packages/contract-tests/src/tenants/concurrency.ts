import type { TenantRepository } from "@proj/ports";
import { isInfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { newTenant, type TenantCheck } from "./crud.js";

/** Concurrent writers; each check gets an empty repository. */
export const concurrencyChecks: Readonly<Record<string, TenantCheck>> = {
  "lets exactly one of many concurrent writers with the same expected version win": async (repository) => {
    const created = await repository.create(newTenant("contended"));
    const writers = Array.from({ length: 8 }, (_, i) =>
      repository.update(created.id, { name: `writer ${i}` }, 1),
    );
    const results = await Promise.allSettled(writers);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    for (const r of lost) expect(isInfrastructureError(r.reason, "CONFLICT")).toBe(true);
    const stored = await repository.getById(created.id);
    expect(stored.version).toBe(2);
    expect(stored.name).toBe((won[0] as PromiseFulfilledResult<{ name: string }>).value.name);
  },

  "loses no update when writers retry on CONFLICT": async (repository) => {
    const created = await repository.create(newTenant("counter", { settings: { count: 0 } }));
    const increment = async () => {
      for (;;) {
        const current = await repository.getById(created.id);
        try {
          await repository.update(
            created.id,
            { settings: { count: (current.settings.count as number) + 1 } },
            current.version,
          );
          return;
        } catch (error) {
          if (!isInfrastructureError(error, "CONFLICT")) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, increment));
    const stored = await repository.getById(created.id);
    expect(stored.settings.count).toBe(10);
    expect(stored.version).toBe(11);
  },

  "admits one of two concurrent creates of the same slug": async (repository) => {
    const results = await Promise.allSettled([
      repository.create(newTenant("race")),
      repository.create(newTenant("race")),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(isInfrastructureError(rejected.reason, "CONFLICT")).toBe(true);
  },
};

export function concurrencyTests(repository: () => TenantRepository): void {
  describe("concurrency", () => {
    for (const [name, check] of Object.entries(concurrencyChecks)) it(name, () => check(repository()));
  });
}
