// Declared dependencies match the source: every package imported from a package's src/ is declared
// in its dependencies or peerDependencies, and every declared runtime dependency is imported.
// packages/ holds the published packages only: none is private, and none depends on a sibling other
// than @proj/ports (the contract suite may also use vitest). tools/ holds workspace test support that
// is never published nor installed by a user: each tool is private and may build on its siblings
// (decorator-contracts runs every contract over the memory adapters); the rest of the check holds
// for it too.
// In apps, only the composition root may import concrete adapters: application/ and
// infrastructure/ see @proj/ports alone, http/ also its web framework.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";

const builtins = new Set(builtinModules);
const IMPORT =
  /(?:import|export)\s[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^import\s+["']([^"']+)["']/gm;

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts)$/.test(name) ? [path] : [];
  });
}

function importsOf(file) {
  // Comments may quote import-looking text; drop them first.
  const text = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const found = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier.startsWith(".") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
    found.push(packageName(specifier));
  }
  return found;
}

function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

let failures = 0;
let checked = 0;
const workspace = ["packages", "tools"].flatMap((folder) =>
  readdirSync(folder).map((dir) => ({ folder, dir: join(folder, dir) })),
);
for (const { folder, dir } of workspace) {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const imported = new Set();
  for (const file of sourceFiles(join(dir, "src"))) for (const name of importsOf(file)) imported.add(name);
  const problems = [];
  for (const name of imported)
    if (!declared.has(name)) problems.push(`imports ${name} but does not declare it`);
  for (const name of Object.keys(manifest.dependencies ?? {}))
    if (!imported.has(name)) problems.push(`declares ${name} but never imports it`);
  if (folder === "packages") {
    if (manifest.private) problems.push(`is private: unpublished workspace support belongs in tools/`);
    const siblings = [...declared].filter((name) => name.startsWith("@proj/") && name !== "@proj/ports");
    if (siblings.length > 0) problems.push(`depends on sibling packages: ${siblings.join(", ")}`);
  } else if (!manifest.private) problems.push(`${dir} is not private: a tool is never published`);
  checked++;
  if (problems.length > 0) {
    failures++;
    for (const problem of problems) console.error(`${manifest.name}: ${problem}`);
  }
}
const LAYERS = {
  application: ["@proj/ports"],
  infrastructure: ["@proj/ports"],
  http: ["@proj/ports", "fastify"],
};
for (const app of readdirSync("apps")) {
  for (const [layer, allowed] of Object.entries(LAYERS)) {
    const dir = join("apps", app, "src", layer);
    let files;
    try {
      files = sourceFiles(dir);
    } catch {
      continue;
    }
    checked++;
    const outside = files.flatMap((file) =>
      importsOf(file)
        .filter((name) => !allowed.includes(name))
        .map((name) => `${file} imports ${name}`),
    );
    if (outside.length > 0) {
      failures++;
      for (const line of outside)
        console.error(`${app}: the ${layer} layer may import only ${allowed.join(", ")}: ${line}`);
    }
  }
}
console.log(`dependency check: ${checked - failures} passed, ${failures} failed`);
process.exitCode = failures > 0 ? 1 : 0;
