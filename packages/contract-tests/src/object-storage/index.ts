import { describe } from "vitest";
import { useFreshAdapter } from "../harness.js";
import { copyTests } from "./copy.js";
import { deleteTests } from "./delete.js";
import { failureTests } from "./failures.js";
import type { ObjectStorageHarness } from "./fixtures.js";
import { keyTests } from "./keys.js";
import { listTests } from "./list.js";
import { putGetTests } from "./put-get.js";
import { rangeTests } from "./ranges.js";
import { signedUrlTests } from "./signed-urls.js";

export type { ObjectStorageHarness } from "./fixtures.js";

/** Registers the `ObjectStorage` contract (packages/ports/src/object-storage.ts) against an adapter. */
export function objectStorageContract(name: string, harness: ObjectStorageHarness): void {
  describe(`${name}: ObjectStorage contract`, () => {
    const storage = useFreshAdapter(harness);
    keyTests(storage);
    putGetTests(storage, harness);
    rangeTests(storage, harness);
    deleteTests(storage);
    listTests(storage);
    copyTests(storage);
    signedUrlTests(storage, harness);
    failureTests(storage, harness);
  });
}
