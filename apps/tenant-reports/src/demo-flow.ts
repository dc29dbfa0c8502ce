import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TokenIssuer } from "@proj/ports";
import { composeService, openDevelopmentIssuer } from "./composition/compose.js";
import type { ServiceConfig } from "./composition/config.js";

export interface DemoResult {
  /** `running` when it drove a service that was already listening, `own` when it composed one. */
  service: "running" | "own";
  tenantId: string;
  reportId: string;
  rowCount: number;
  reportPath: string;
}

const PROBE_TIMEOUT_MS = 2_000;

/** The address a client uses for the configured listener (a wildcard host is reached on loopback). */
function serviceAddress(config: ServiceConfig): string {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`;
}

/** Whether this configuration's service already answers `/health`. */
async function isRunning(base: string): Promise<boolean> {
  try {
    const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * One full flow over HTTP: create a tenant, load sample orders, request a report, download it.
 *
 * When the configured service is already running (`pnpm start`), the demo drives that one: opening
 * its data folder a second time would run two database engines on the same files (the PGlite
 * adapter refuses it). Otherwise it composes a service of its own for the duration of the flow.
 */
export async function runDemo(
  config: ServiceConfig,
  log: (line: string) => void = console.log,
): Promise<DemoResult> {
  const running = serviceAddress(config);
  if (config.tokens.kind !== "development")
    throw new Error("the demo mints its own tokens: run it without JWT settings");
  if (await isRunning(running)) {
    log(`a service answers on ${running}: the demo drives it over HTTP (its data folder stays its own)`);
    const issuer = await openDevelopmentIssuer(config.tokens.keyFile);
    return { service: "running", ...(await flow(running, issuer, config.dataDir, log)) };
  }
  const service = await composeService(config);
  try {
    const base = await service.http.listen({ host: "127.0.0.1", port: 0 });
    log(`service composed: ${service.description}, listening on ${base}`);
    return { service: "own", ...(await flow(base, service.devIssuer as TokenIssuer, config.dataDir, log)) };
  } finally {
    await service.close();
  }
}

interface ReportStatusBody {
  id: string;
  status: "queued" | "running" | "done" | "failed";
  rowCount: number;
  byteSize: number;
  requestedAt: string;
  finishedAt: string;
  errorCode?: string;
}

const REPORT_WAIT_MS = 120_000;

/** Polls the report's status until a worker has made it (or failed it). */
async function waitForReport(
  call: (token: string, method: string, path: string) => Promise<Response>,
  token: string,
  id: string,
): Promise<ReportStatusBody> {
  const deadline = Date.now() + REPORT_WAIT_MS;
  for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
    const report = (await (await call(token, "GET", `/reports/${id}/status`)).json()) as ReportStatusBody;
    if (report.status === "done") return report;
    if (report.status === "failed") throw new Error(`report ${id} failed: ${report.errorCode}`);
    if (Date.now() > deadline)
      throw new Error(`report ${id} still ${report.status} after ${REPORT_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

async function flow(
  base: string,
  issuer: TokenIssuer,
  dataDir: string,
  log: (line: string) => void,
): Promise<Omit<DemoResult, "service">> {
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      const hint = response.status === 401 ? " (is the running service using another DATA_DIR?)" : "";
      throw new Error(`${method} ${path} answered ${response.status}${hint}: ${await response.text()}`);
    }
    return response;
  };
  const adminToken = await issuer.issue({ subject: "demo-admin", roles: ["admin"] });
  const slug = `demo-${Date.now().toString(36)}`;
  const tenant = (await (
    await call(adminToken, "POST", "/tenants", { slug, name: "Demo Corp", plan: "pro" })
  ).json()) as { id: string };
  log(`1. created tenant ${slug} (${tenant.id})`);
  const token = (
    (await (
      await call(adminToken, "POST", "/dev/tokens", { subject: "demo-user", tenantId: tenant.id })
    ).json()) as { token: string }
  ).token;
  const { added } = (await (await call(token, "POST", "/orders/sample", { count: 5_000 })).json()) as {
    added: number;
  };
  log(`2. loaded ${added} sample orders`);
  const requested = (await (await call(token, "POST", "/reports", { format: "xlsx" })).json()) as {
    id: string;
  };
  log(`3. requested report ${requested.id}: queued; a worker takes its job`);
  const report = await waitForReport(call, token, requested.id);
  log(
    `4. report ${report.id} done in ${Date.parse(report.finishedAt) - Date.parse(report.requestedAt)} ms: ${report.rowCount} rows, ${report.byteSize} bytes, stored under tenants/${tenant.id}/reports/`,
  );
  const download = await call(token, "GET", `/reports/${report.id}`);
  const bytes = Buffer.from(await download.arrayBuffer());
  const folder = join(dataDir, "demo");
  await mkdir(folder, { recursive: true });
  const reportPath = join(folder, `report-${report.id}.xlsx`);
  await writeFile(reportPath, bytes);
  log(`5. downloaded ${bytes.length} bytes to ${reportPath}`);
  log(`report: ${reportPath} (${report.rowCount} rows)`);
  return { tenantId: tenant.id, reportId: report.id, rowCount: report.rowCount, reportPath };
}
