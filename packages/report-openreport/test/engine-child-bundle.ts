import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/**
 * Bundles the reference engine process from source (with `@proj/ports` from source too) into a
 * temporary file `node` can run, as tests import everything from source rather than from `dist`.
 */
export async function bundleEngineChild(): Promise<string> {
  const outfile = join(await mkdtemp(join(tmpdir(), "report-engine-child-")), "engine-child.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("../src/engine-child.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    alias: { "@proj/ports": fileURLToPath(new URL("../../ports/src/index.ts", import.meta.url)) },
    logLevel: "silent",
  });
  return outfile;
}
