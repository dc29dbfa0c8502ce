import { defineConfig } from "vitest/config";

/** Defaults for every package's tests: real servers are slow to answer on a loaded 2-core machine. */
export const sharedTestConfig = defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    include: ["test/**/*.test.ts"],
    reporters: ["default"],
  },
});
