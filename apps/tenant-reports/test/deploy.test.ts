import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const appDir = new URL("..", import.meta.url).pathname;
// Drivers, and the OpenTelemetry SDK with its exporters (only the API is a plain dependency).
const OPTIONAL_DRIVERS =
  /^(mysql2|mongodb|ioredis|pg|amqplib|bullmq|@aws-sdk\+.*|@nats-io\+.*|@proj\+(adapter-postgres|adapter-mysql|adapter-r2|cache-redis|cache-tiered|queue-postgres|queue-redis|queue-rabbitmq|queue-nats)|@opentelemetry\+(?!api@).*)@/;

/** Starts `node dist/main.js` from `dir` and resolves with everything it printed once it exits. */
function start(dir: string, env: Record<string, string>, stopWhen: (output: string) => boolean) {
  return new Promise<{ output: string; code: number | null }>((resolve) => {
    const child = spawn(process.execPath, ["dist/main.js"], {
      cwd: dir,
      env: { ...process.env, HOST: "127.0.0.1", PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (stopWhen(output)) child.kill("SIGTERM");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ output, code });
    });
  });
}

describe("a production deploy of the embedded composition", () => {
  let deployDir: string;
  let dataDir: string;

  beforeAll(async () => {
    const scratch = mkdtempSync(join(tmpdir(), "tenant-reports-deploy-"));
    deployDir = join(scratch, "app");
    dataDir = join(scratch, "data");
    await run("pnpm", ["--filter", "tenant-reports", "deploy", "--prod", "--no-optional", deployDir], {
      cwd: appDir,
    });
  }, 180_000);

  afterAll(() => rmSync(join(deployDir, ".."), { recursive: true, force: true }));

  it("installs none of the drivers of compositions it does not use", () => {
    const installed = readdirSync(join(deployDir, "node_modules", ".pnpm"));
    expect(installed.filter((entry) => OPTIONAL_DRIVERS.test(entry))).toEqual([]);
    expect(existsSync(join(deployDir, "node_modules", "@proj", "adapter-pglite"))).toBe(true);
  });

  it("starts and serves on PGlite and a local folder", async () => {
    const { output } = await start(deployDir, { DATA_DIR: dataDir }, (text) => text.includes("listening on"));
    expect(output).toMatch(
      /listening on http:\/\/127\.0\.0\.1:\d+ \(database=pglite storage=local cache=memory/,
    );
  }, 120_000);

  it("refuses to start with one line naming the OpenTelemetry SDK when telemetry is configured without it", async () => {
    const { output, code } = await start(
      deployDir,
      { DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" },
      () => false,
    );
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "tenant-reports: telemetry (OTEL_* or METRICS=prometheus) needs @opentelemetry/sdk-node, which is not installed: pnpm add @opentelemetry/sdk-node (or npm install @opentelemetry/sdk-node)",
    );
  }, 120_000);

  it("refuses to start with one line naming the package when the configuration names a missing adapter", async () => {
    const { output, code } = await start(
      deployDir,
      { DATA_DIR: dataDir, DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" },
      () => false,
    );
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      "tenant-reports: DATABASE_URL (postgres://) needs @proj/adapter-postgres, which is not installed: pnpm add @proj/adapter-postgres (or npm install @proj/adapter-postgres)",
    );
  }, 120_000);
});
