import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalObjectStorage } from "@proj/adapter-local-fs";
import { objectStorageContract } from "@proj/contract-tests";
import { runContracts } from "@proj/decorator-contracts";
import type { ObjectStorage } from "@proj/ports";
import { afterAll } from "vitest";
import { instrumentObjectStorage } from "../src/index.js";
import { Decorated, expectSpansRecordedAndClosed, instrumented } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

runContracts("through instrumentObjectStorage", instrumented(telemetry.options), ["objectStorage"]);

// The shared runs cover the memory store only; the local folder's store goes through the decorator too.
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
