import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The workspace folders whose entries are `@proj/<dir>` packages: the published ones and the tools. */
const workspaceFolders = ["./packages/", "./tools/"].map((folder) =>
  fileURLToPath(new URL(folder, import.meta.url)),
);

/**
 * Tests import sibling workspace packages from source, so a test run never depends on (or races
 * with) another package's build. The packed-tarball consumer test covers the built output.
 */
const workspaceSources = Object.fromEntries(
  workspaceFolders.flatMap((folder) =>
    readdirSync(folder).map((dir) => [`@proj/${dir}`, `${folder}${dir}/src/index.ts`]),
  ),
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
