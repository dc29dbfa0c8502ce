import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.base";

// The second entry is the reference engine process (`node dist/engine-child.js`).
export default defineConfig({ ...packageBuild, entry: ["src/index.ts", "src/engine-child.ts"] });
