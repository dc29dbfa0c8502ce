import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

/*
 * The SQL contract must fail an adapter that is wrong in ways the suite once let through. The
 * lax adapters (fixtures/lax-adapters.fixture.ts) run in a vitest of their own, and this test
 * reads which of their contract tests failed.
 */

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const vitestCli = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");

/** The contract tests that would pass a lax adapter before, and their name fragments. */
const STRICT_TESTS = [
  "the server reports that level",
  "committed after its first read",
  "refuses a write with INVALID_ARGUMENT",
  "close lets a running transaction finish",
  "pulls rows as it writes them",
  "fetches lazily",
  "yields the rows before a failing row",
  "matches capabilities.returning",
];

type Outcome = "passed" | "failed" | "skipped" | "pending" | "todo";

let outcomes: Map<string, Outcome>;

beforeAll(async () => {
  const folder = await mkdtemp(join(tmpdir(), "lax-sql-"));
  const report = join(folder, "report.json");
  try {
    const run = promisify(execFile)(
      process.execPath,
      [
        vitestCli,
        "run",
        "--config",
        "test/fixtures/vitest.config.mjs",
        "--reporter=json",
        `--outputFile=${report}`,
        "--testNamePattern",
        STRICT_TESTS.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
      ],
      { cwd: packageDir, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
    );
    // Lax adapters fail their checks, so vitest exits with 1; anything else (a crash, a kill on
    // timeout) is a broken run, not a verdict.
    const exitCode = await run.then(
      () => 0,
      (error: { code?: unknown; signal?: unknown }) => error.signal ?? error.code,
    );
    expect(exitCode).toBe(1);
    const json = JSON.parse(await readFile(report, "utf8")) as {
      testResults: { assertionResults: { fullName: string; status: Outcome }[] }[];
    };
    outcomes = new Map(
      json.testResults.flatMap((file) => file.assertionResults.map((test) => [test.fullName, test.status])),
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}, 300_000);

function outcomesOf(adapter: string, testName: string): Outcome[] {
  return [...outcomes]
    .filter(
      ([fullName]) => fullName.startsWith(`SqlDatabase contract: ${adapter} `) && fullName.includes(testName),
    )
    .map(([, outcome]) => outcome);
}

describe("the SQL contract fails a deliberately lax adapter", () => {
  it("passes every strict check on the honest adapter (the control)", () => {
    for (const name of STRICT_TESTS) {
      const found = outcomesOf("honest", name);
      expect(found.length, name).toBeGreaterThan(0);
      expect(found, name).toEqual(found.map(() => "passed"));
    }
  });

  it.each([
    ["ignores isolationLevel", "the server reports that level"],
    ["ignores isolationLevel", "committed after its first read"],
    ["reports a read-only violation as INTERNAL", "refuses a write with INVALID_ARGUMENT"],
    ["close does not wait for a running transaction", "close lets a running transaction finish"],
    ["insertMany collects the whole source first", "pulls rows as it writes them"],
    ["stream runs the whole query first", "fetches lazily"],
    ["stream runs the whole query first", "yields the rows before a failing row"],
    ["declares no RETURNING yet runs it", "matches capabilities.returning"],
  ])("%s: fails “%s”", (adapter, testName) => {
    const found = outcomesOf(adapter, testName);
    expect(found.length).toBeGreaterThan(0);
    expect(found).toContain("failed");
  });
});
