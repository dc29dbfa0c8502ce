import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const packagesDir = fileURLToPath(new URL("./packages/", import.meta.url));

/**
 * Tests import sibling workspace packages from source, so a test run never depends on (or races
 * with) another package's build. The packed-tarball consumer test covers the built output.
 */
const workspaceSources = Object.fromEntries(
  readdirSync(packagesDir).map((dir) => [`@proj/${dir}`, `${packagesDir}${dir}/src/index.ts`]),
);

/** Defaults for every package's tests: real servers answer slowly on a loaded 2-core machine. */
export const sharedTestConfig = defineConfig({
  resolve: { alias: workspaceSources },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    include: ["test/**/*.test.ts"],
  },
});
