import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

const manifest = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  optionalDependencies?: Record<string, string>;
};

export default defineConfig({
  ...packageBuild,
  // The composition modules are entries too, so bench/ can compose the service in-process.
  entry: [
    "src/main.ts",
    "src/worker.ts",
    "src/demo.ts",
    "src/composition/compose.ts",
    "src/composition/config.ts",
  ],
  format: ["esm"],
  dts: false,
  // Adapters loaded only when the configuration names them stay imports, never bundled in.
  external: Object.keys(manifest.optionalDependencies ?? {}),
});
