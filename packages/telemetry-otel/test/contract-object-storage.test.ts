import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalObjectStorage } from "@proj/adapter-local-fs";
import { createMemoryObjectStorage } from "@proj/adapter-memory";
import { objectStorageContract } from "@proj/contract-tests";
import type { ObjectStorage } from "@proj/ports";
import { afterAll } from "vitest";
import { instrumentObjectStorage } from "../src/index.js";
import { Decorated, expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

objectStorageContract("adapter-memory through instrumentObjectStorage", {
  create: async () => instrumentObjectStorage(createMemoryObjectStorage(), telemetry.options),
  capabilities: { signedUrls: false, conditionalPut: true, rangeReads: true },
});

const local = new Decorated<ObjectStorage, ReturnType<typeof createLocalObjectStorage>>();
objectStorageContract("adapter-local-fs through instrumentObjectStorage", {
  create: async () =>
    local.wrap(
      createLocalObjectStorage({ root: await fs.mkdtemp(join(tmpdir(), "telemetry-otel-")) }),
      (storage) => instrumentObjectStorage(storage, telemetry.options),
    ),
  destroy: async (storage) => {
    await storage.close();
    await fs.rm(local.inner(storage).root, { recursive: true, force: true });
  },
  capabilities: { signedUrls: false, conditionalPut: true, rangeReads: true },
});
expectSpansRecordedAndClosed(telemetry, "ObjectStorage");

afterAll(() => telemetry.shutdown());
