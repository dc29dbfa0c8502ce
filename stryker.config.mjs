// Mutation testing, run per package from its folder (`pnpm mutation` at the root): the package's
// own vitest suite must kill each mutant of its source. In place, because a sandbox copy of one
// package cannot resolve the shared vitest config two folders up.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  vitest: { configFile: "vitest.config.ts" },
  inPlace: true,
  mutate: ["src/**/*.ts", "!src/index.ts"],
  coverageAnalysis: "perTest",
  // Constants tables re-run every test per mutant (87% of the time) and say little.
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 60_000,
  reporters: ["clear-text", "progress"],
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 75, break: null },
  tempDirName: "node_modules/.stryker-tmp",
  cleanTempDir: "always",
};
