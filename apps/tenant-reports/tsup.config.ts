import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

export default defineConfig({
  ...packageBuild,
  entry: ["src/main.ts", "src/demo.ts"],
  format: ["esm"],
  dts: false,
});
