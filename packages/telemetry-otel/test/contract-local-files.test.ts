import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalFileManager } from "@proj/adapter-local-fs";
import { localFileManagerContract } from "@proj/contract-tests";
import { afterAll } from "vitest";
import { instrumentLocalFileManager } from "../src/index.js";
import { expectSpansRecordedAndClosed } from "./support/decorated.js";
import { TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();

localFileManagerContract("adapter-local-fs through instrumentLocalFileManager", {
  create: async () =>
    instrumentLocalFileManager(
      createLocalFileManager({ root: await fs.mkdtemp(join(tmpdir(), "telemetry-otel-")) }),
      telemetry.options,
    ),
  destroy: async (manager) => {
    await manager.close();
    await fs.rm(manager.root, { recursive: true, force: true });
  },
});
expectSpansRecordedAndClosed(telemetry, "LocalFileManager");

afterAll(() => telemetry.shutdown());
