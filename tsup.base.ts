import type { Options } from "tsup";

/** The one build every package shares: ESM + CJS, each with its own declarations. */
export const packageBuild: Options = {
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  // No source maps in the tarballs: tsup inlines the whole source into them (60% of a tarball).
  sourcemap: false,
  clean: true,
  target: "node22",
  platform: "node",
  splitting: false,
  treeshake: true,
};
