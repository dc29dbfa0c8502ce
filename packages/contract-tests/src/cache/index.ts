import type { Cache } from "@proj/ports";
import { describe } from "vitest";
import { useFreshAdapter } from "../harness.js";
import { basicTests } from "./basic.js";
import { batchWriteTests } from "./batch-writes.js";
import { callOptionsTests } from "./call-options.js";
import { getOrSetTests } from "./get-or-set.js";
import type { CacheHarness } from "./harness.js";
import { hostileInputTests } from "./hostile-input.js";
import { invalidationTests } from "./invalidation.js";
import { lifecycleTests } from "./lifecycle.js";
import { memberSetTests } from "./member-sets.js";
import { staleWhileRevalidateTests } from "./stale-while-revalidate.js";
import { statsTests } from "./stats.js";
import { tagTests } from "./tags.js";
import { ttlTests } from "./ttl.js";

export type { CacheHarness } from "./harness.js";

/**
 * The `Cache` contract: one test per sentence of the port's doc comment. Time-dependent tests use
 * short real TTLs, so the suite runs unchanged against a cache shared through a server.
 */
export function cacheContract(name: string, harness: CacheHarness): void {
  describe(`Cache contract: ${name}`, () => {
    const cache: () => Cache = useFreshAdapter(harness);
    lifecycleTests(cache, harness);
    basicTests(cache);
    ttlTests(cache, harness);
    getOrSetTests(cache);
    staleWhileRevalidateTests(cache, harness);
    invalidationTests(cache, harness);
    tagTests(cache, harness);
    batchWriteTests(cache, harness);
    memberSetTests(cache, harness);
    statsTests(cache, harness);
    hostileInputTests(cache, harness);
    callOptionsTests(cache);
  });
}
