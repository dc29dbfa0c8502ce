import type { TenantRepository } from "@proj/ports";
import { describe } from "vitest";
import { type ContractHarness, useFreshAdapter } from "../harness.js";
import { concurrencyTests } from "./concurrency.js";
import { crudTests } from "./crud.js";
import { listTests } from "./list.js";

/** The harness gives a repository over an empty store of its own. */
export type TenantRepositoryHarness = ContractHarness<TenantRepository>;

/** Registers the `TenantRepository` contract (packages/ports/src/tenants.ts) against an adapter. */
export function tenantRepositoryContract(name: string, harness: TenantRepositoryHarness): void {
  describe(`${name}: TenantRepository contract`, () => {
    const repository = useFreshAdapter(harness);
    crudTests(repository);
    listTests(repository);
    concurrencyTests(repository);
  });
}
