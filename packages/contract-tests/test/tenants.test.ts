import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { tenantRepositoryContract } from "../src/index.js";

tenantRepositoryContract("memory", { create: async () => createMemoryTenantRepository() });
