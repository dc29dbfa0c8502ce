// The cache hit path's cost in machine instructions, which the load of a shared machine does not
// change: each side runs under valgrind's callgrind with V8 made deterministic (--predictable,
// --single-threaded), once with N and once with 3N awaited hits after the same warm-up; the
// difference divided by 2N is the instructions per hit. A complement to bench/overhead.mjs (whose
// wall-clock ratios need a quiet machine), not a replacement: instructions are not nanoseconds.
//
//   pnpm --filter @proj/telemetry-otel... build && pnpm --filter @proj/telemetry-otel bench:instructions
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const N = Number(process.env.BENCH_OPS ?? 100_000);
const child = fileURLToPath(new URL("./instructions-child.mjs", import.meta.url));

/** Instructions callgrind counted for one run of the child. */
function collected(side, ops) {
  const run = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      "--callgrind-out-file=/dev/null",
      "--smc-check=all-non-file",
      process.execPath,
      "--predictable",
      "--single-threaded",
      child,
      side,
      String(ops),
    ],
    { encoding: "utf8" },
  );
  const match = /Collected : (\d+)/.exec(run.stderr ?? "");
  if (run.status !== 0 || !match) throw new Error(`callgrind run failed (${run.status}):\n${run.stderr}`);
  return Number(match[1]);
}

try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
} catch {
  console.log("valgrind is not installed (apt-get install valgrind): no instruction counts");
  process.exit(0);
}
console.log(
  `${new Date().toISOString()} node ${process.version}, ${N.toLocaleString("en-US")} and ${(3 * N).toLocaleString("en-US")} hits per side`,
);
const perHit = {};
for (const side of ["cache-memory", "instrumented"]) {
  const once = collected(side, N);
  const thrice = collected(side, 3 * N);
  perHit[side] = (thrice - once) / (2 * N);
  console.log(`  ${side.padEnd(14)} ${perHit[side].toFixed(1)} instructions per awaited hit`);
}
console.log(
  `ratio cache hit path instructions: instrumented, no SDK / cache-memory = ${(perHit.instrumented / perHit["cache-memory"]).toFixed(4)}`,
);
