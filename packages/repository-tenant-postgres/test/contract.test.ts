import { createMemoryCache } from "@proj/cache-memory";
import { tenantRepositoryContract } from "@proj/contract-tests";
import type { JsonValue, TenantRepository } from "@proj/ports";
import { afterAll } from "vitest";
import { createCachedTenantRepository, createSqlTenantRepository } from "../src/index.js";
import { BACKENDS, type Namespace } from "./backends.js";

const namespaces = new WeakMap<TenantRepository, Namespace>();

for (const makeBackend of Object.values(BACKENDS)) {
  const backend = makeBackend();
  afterAll(() => backend.shutdown());

  tenantRepositoryContract(backend.name, {
    async create() {
      const namespace = await backend.open();
      const repository = await createSqlTenantRepository(namespace.db);
      namespaces.set(repository, namespace);
      return repository;
    },
    async destroy(repository) {
      await repository.close();
      await namespaces.get(repository)?.drop();
    },
  });

  tenantRepositoryContract(`${backend.name}, cached through @proj/cache-memory`, {
    async create() {
      const namespace = await backend.open();
      const cache = createMemoryCache<JsonValue>({ maxEntries: 1_000 });
      const repository = createCachedTenantRepository(await createSqlTenantRepository(namespace.db), cache);
      namespaces.set(repository, namespace);
      return repository;
    },
    async destroy(repository) {
      await repository.close();
      await namespaces.get(repository)?.drop();
    },
  });
}
