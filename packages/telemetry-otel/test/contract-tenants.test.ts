import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { tenantRepositoryContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { instrumentTenantRepository } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

tenantRepositoryContract("adapter-memory through instrumentTenantRepository", {
  create: async () => instrumentTenantRepository(createMemoryTenantRepository(), telemetry.options),
});
expectSpansRecordedAndClosed(telemetry, "TenantRepository");

afterAll(() => telemetry.shutdown());
