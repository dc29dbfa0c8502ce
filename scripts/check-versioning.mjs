// Proves that versions stay independent: in a scratch copy of the repository, a minor release of
// @proj/ports bumps no adapter past a patch, and an adapter's own minor release bumps that adapter
// alone. It also breaks one peer range on purpose and checks that the same assertion then fails,
// so the check cannot pass by accident.
// The tools under tools/ are never released: each is in the `ignore` of .changeset/config.json, no
// pending changeset names one, and a release of the siblings a tool builds on releases no tool
// (checked again with the tools taken out of `ignore`, where it must fail).
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = process.cwd();
const changesetBin = join(repo, "node_modules", "@changesets", "cli", "bin.js");
let passed = 0;
let failed = 0;

/** A scratch git repository holding the tracked files of this one (no pending changesets). */
function scratchCopy() {
  const dir = mkdtempSync(join(tmpdir(), "proj-versioning-"));
  const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: repo, encoding: "utf8" })
    .split("\0")
    .filter((file) => file !== "" && !file.startsWith(".changeset/") && !file.endsWith("pnpm-lock.yaml"));
  for (const file of tracked) cpSync(join(repo, file), join(dir, file), { recursive: true });
  cpSync(join(repo, ".changeset", "config.json"), join(dir, ".changeset", "config.json"));
  const git = (...args) => execFileSync("git", args, { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "add", "-A");
  git("-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "commit", "-qm", "scratch");
  return dir;
}

/** The releases `changeset status` plans for the given changesets, as { name: bump }. */
function plannedReleases(dir, changesets) {
  for (const file of readdirSync(join(dir, ".changeset")))
    if (file.endsWith(".md")) unlinkSync(join(dir, ".changeset", file));
  changesets.forEach((bumps, index) => {
    const frontMatter = Object.entries(bumps)
      .map(([name, bump]) => `"${name}": ${bump}`)
      .join("\n");
    writeFileSync(
      join(dir, ".changeset", `scratch-${index}.md`),
      `---\n${frontMatter}\n---\nScratch change.\n`,
    );
  });
  const output = join(dir, "status.json");
  execFileSync(process.execPath, [changesetBin, "status", `--output=${output}`], {
    cwd: dir,
    stdio: "ignore",
  });
  const { releases } = JSON.parse(readFileSync(output, "utf8"));
  return Object.fromEntries(
    releases.filter((release) => release.type !== "none").map((release) => [release.name, release.type]),
  );
}

function check(name, condition, detail) {
  if (condition) {
    passed += 1;
    console.log(`ok: ${name}`);
  } else {
    failed += 1;
    console.error(`FAILED: ${name}: ${detail}`);
  }
}

/** The packages under tools/, as { name, siblings: the @proj/ packages it depends on }. */
const tools = readdirSync(join(repo, "tools")).map((dir) => {
  const manifest = JSON.parse(readFileSync(join(repo, "tools", dir, "package.json"), "utf8"));
  const siblings = Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith("@proj/"));
  return { name: manifest.name, siblings };
});
const toolNames = new Set(tools.map((tool) => tool.name));
const changesetConfig = JSON.parse(readFileSync(join(repo, ".changeset", "config.json"), "utf8"));
const notIgnored = [...toolNames].filter((name) => !(changesetConfig.ignore ?? []).includes(name));
check(
  "every tool is in the changesets ignore list",
  notIgnored.length === 0,
  `add to "ignore" in .changeset/config.json: ${notIgnored.join(", ")}`,
);
const namingTools = readdirSync(join(repo, ".changeset"))
  .filter((file) => file.endsWith(".md"))
  .filter((file) => {
    const frontMatter = readFileSync(join(repo, ".changeset", file), "utf8").split(/^---$/m)[1] ?? "";
    return [...toolNames].some((name) => frontMatter.includes(`"${name}"`));
  });
check(
  "no pending changeset names a tool",
  namingTools.length === 0,
  `a tool is never released: ${namingTools.join(", ")}`,
);
/** A release of every sibling some tool builds on. */
const toolSiblingsRelease = Object.fromEntries(
  tools.flatMap((tool) => tool.siblings).map((name) => [name, "minor"]),
);
const releasedTools = (releases) => Object.keys(releases).filter((name) => toolNames.has(name));

const adaptersPastPatch = (releases) =>
  Object.entries(releases).filter(
    ([name, type]) => name !== "@proj/ports" && type !== "patch" && type !== "none",
  );

const dir = scratchCopy();
try {
  const portsMinor = plannedReleases(dir, [{ "@proj/ports": "minor" }]);
  check(
    "a ports minor release is a ports minor",
    portsMinor["@proj/ports"] === "minor",
    JSON.stringify(portsMinor),
  );
  check(
    "a ports minor release bumps no other package past a patch",
    adaptersPastPatch(portsMinor).length === 0,
    JSON.stringify(adaptersPastPatch(portsMinor)),
  );

  const adapterMinor = plannedReleases(dir, [{ "@proj/adapter-postgres": "minor" }]);
  check(
    "an adapter's own minor release bumps that adapter alone",
    JSON.stringify(adapterMinor) === JSON.stringify({ "@proj/adapter-postgres": "minor" }),
    JSON.stringify(adapterMinor),
  );

  const siblingsMinor = plannedReleases(dir, [toolSiblingsRelease]);
  check(
    "a release of the packages the tools build on releases no tool",
    releasedTools(siblingsMinor).length === 0,
    JSON.stringify(releasedTools(siblingsMinor)),
  );

  // The same assertion must catch a tool left out of the changesets ignore list.
  const scratchConfig = join(dir, ".changeset", "config.json");
  const configText = readFileSync(scratchConfig, "utf8");
  writeFileSync(
    scratchConfig,
    JSON.stringify({
      ...changesetConfig,
      ignore: (changesetConfig.ignore ?? []).filter((name) => !toolNames.has(name)),
    }),
  );
  const unignored = plannedReleases(dir, [toolSiblingsRelease]);
  writeFileSync(scratchConfig, configText);
  check(
    "the check fails for tools taken out of the changesets ignore list",
    tools.length > 0 && releasedTools(unignored).length > 0,
    `expected a tool released, got ${JSON.stringify(unignored)}`,
  );

  // The same assertion must catch an adapter whose peer range a ports minor falls outside.
  const manifest = join(dir, "packages", "cache-memory", "package.json");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace(
      /("peerDependencies": \{[^}]*"@proj\/ports": )"workspace:\^"/,
      '$1"workspace:1.0.0"',
    ),
  );
  const broken = plannedReleases(dir, [{ "@proj/ports": "minor" }]);
  check(
    "the check fails for a deliberately out-of-range peer (cache-memory peering on exactly ports 1.0.0)",
    adaptersPastPatch(broken).some(([name]) => name === "@proj/cache-memory"),
    `expected @proj/cache-memory past a patch, got ${JSON.stringify(broken)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`versioning check: ${passed} passed, ${failed} failed`);
if (failed > 0) process.exit(1);
