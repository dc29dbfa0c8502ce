import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// ESM only: vitest, which every suite registers with, cannot be loaded through require().
// `jobs-child-runner.js` is the process the jobs contract starts and kills (its SIGKILL test).
export default defineConfig({
  ...packageBuild,
  entry: { index: "src/index.ts", "jobs-child-runner": "src/jobs/child-runner.ts" },
  dts: { entry: { index: "src/index.ts" } },
  format: ["esm"],
});
