import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type ComposedService, composeService } from "../src/composition/compose.js";
import { loadConfig } from "../src/composition/config.js";
import { runDemo } from "../src/demo-flow.js";
import { caller, settledReport } from "./e2e/http-suite.js";

/** PGlite starts in seconds on a quiet machine, many more on a loaded one; the flow starts it twice. */
const TIMEOUT = 240_000;

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const DEMO_PROCESS = fileURLToPath(new URL("./fixtures/run-demo.mjs", import.meta.url));

/** `pnpm demo` in a process of its own, as a user runs it next to `pnpm start`. */
function demoProcess(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [DEMO_PROCESS], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  cleanup.push(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, output })));
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
}, 120_000);

async function dataFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tenant-reports-demo-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(env: Record<string, string>): Promise<{ service: ComposedService; base: string }> {
  const config = loadConfig(env);
  const service = await composeService(config);
  cleanup.push(() => service.close());
  const base = await service.http.listen({ host: config.host, port: config.port });
  return { service, base };
}

describe("pnpm demo", () => {
  it(
    "while the service runs on the same data folder, drives it over HTTP; after a restart the demo's tenant, orders and report are all there",
    async () => {
      const env = { DATA_DIR: await dataFolder(), PORT: String(await freePort()) };
      const first = await start(env);
      const lines: string[] = [];
      // In this process a second opening of the data folder would fail at once (the PGlite lock):
      // the demo succeeding proves it went through the running service.
      const result = await runDemo(loadConfig(env), (line) => lines.push(line));
      expect(result.service).toBe("running");
      expect(lines[0]).toMatch(/drives it over HTTP/);
      expect(result.rowCount).toBe(5_000);
      expect((await stat(result.reportPath)).size).toBeGreaterThan(0);

      await first.service.close();
      const restarted = await start({ ...env, PORT: "0" });
      const issuer = restarted.service.devIssuer as NonNullable<ComposedService["devIssuer"]>;
      const admin = await issuer.issue({ subject: "check", roles: ["admin"] });
      const tenant = await fetch(`${restarted.base}/tenants/${result.tenantId}`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(tenant.status).toBe(200);
      const user = await issuer.issue({ subject: "check-user", tenantId: result.tenantId });
      const report = await fetch(`${restarted.base}/reports/${result.reportId}`, {
        headers: { authorization: `Bearer ${user}` },
      });
      expect(report.status).toBe(200);
      expect(Buffer.from(await report.arrayBuffer()).length).toBe((await stat(result.reportPath)).size);
      const again = await fetch(`${restarted.base}/reports`, {
        method: "POST",
        headers: { authorization: `Bearer ${user}`, "content-type": "application/json" },
        body: JSON.stringify({ format: "csv" }),
      });
      expect(again.status).toBe(202);
      const { id } = (await again.json()) as { id: string };
      expect((await settledReport(caller(restarted.base, user), id)).rowCount).toBe(5_000);
    },
    TIMEOUT,
  );

  it(
    "run as a second process next to the running service, drives it over HTTP and leaves its data intact",
    async () => {
      const env = { DATA_DIR: await dataFolder(), PORT: String(await freePort()) };
      const running = await start(env);
      const { code, output } = await demoProcess(env);
      expect(code, output).toBe(0);
      expect(output).toMatch(/drives it over HTTP/);
      const tenantId = /created tenant \S+ \(([0-9a-f-]{36})\)/.exec(output)?.[1];
      expect(tenantId, output).toBeDefined();
      const issuer = running.service.devIssuer as NonNullable<ComposedService["devIssuer"]>;
      const user = await issuer.issue({ subject: "check-user", tenantId });
      const report = await fetch(`${running.base}/reports`, {
        method: "POST",
        headers: { authorization: `Bearer ${user}`, "content-type": "application/json" },
        body: JSON.stringify({ format: "csv" }),
      });
      expect(report.status).toBe(202);
      const { id } = (await report.json()) as { id: string };
      expect((await settledReport(caller(running.base, user), id)).rowCount).toBe(5_000);
    },
    TIMEOUT,
  );

  it(
    "with no service running, composes its own on the data folder and releases it afterwards",
    async () => {
      const env = { DATA_DIR: await dataFolder(), PORT: String(await freePort()) };
      const result = await runDemo(loadConfig(env), () => undefined);
      expect(result.service).toBe("own");
      expect(result.rowCount).toBe(5_000);
      expect(existsSync(join(env.DATA_DIR, "pglite", ".proj-pglite.lock"))).toBe(false);
    },
    TIMEOUT,
  );
});
