import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// ESM only: vitest, which every suite registers with, cannot be loaded through require().
export default defineConfig({ ...packageBuild, format: ["esm"] });
