import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

export default defineConfig({
  ...packageBuild,
  // The composition modules are entries too, so bench/ can compose the service in-process.
  entry: ["src/main.ts", "src/demo.ts", "src/composition/compose.ts", "src/composition/config.ts"],
  format: ["esm"],
  dts: false,
});
