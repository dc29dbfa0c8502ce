import { createMemoryDocumentDatabase } from "@proj/adapter-memory";
import { documentDatabaseContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { instrumentDocumentDatabase } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

documentDatabaseContract("adapter-memory through instrumentDocumentDatabase", {
  create: async () => instrumentDocumentDatabase(createMemoryDocumentDatabase(), telemetry.options),
  transactions: true,
});
expectSpansRecordedAndClosed(telemetry, "DocumentDatabase");

afterAll(() => telemetry.shutdown());
