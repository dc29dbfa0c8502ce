import { describe } from "vitest";
import { useFreshAdapter } from "../harness.js";
import { atomicTests } from "./atomic.js";
import { fileTests } from "./files.js";
import type { LocalFileManagerHarness } from "./fixtures.js";
import { lifecycleTests } from "./lifecycle.js";
import { pathTests } from "./paths.js";
import { tempFileTests } from "./temp-files.js";

export type { LocalFileManagerHarness } from "./fixtures.js";

/** Registers the `LocalFileManager` contract (packages/ports/src/local-files.ts) against an adapter. */
export function localFileManagerContract(name: string, harness: LocalFileManagerHarness): void {
  describe(`${name}: LocalFileManager contract`, () => {
    const manager = useFreshAdapter(harness);
    pathTests(manager);
    fileTests(manager);
    atomicTests(manager);
    tempFileTests(manager);
    lifecycleTests(manager, harness);
  });
}
