// Proves that versions stay independent: in a scratch copy of the repository, a minor release of
// @proj/ports bumps no adapter past a patch, and an adapter's own minor release bumps that adapter
// alone. It also breaks one peer range on purpose and checks that the same assertion then fails,
// so the check cannot pass by accident.
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
