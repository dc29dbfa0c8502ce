import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { composeService } from "./composition/compose.js";
import { loadConfig } from "./composition/config.js";

/**
 * One full flow over HTTP against the service composed from the environment (embedded defaults
 * when nothing is set): create a tenant, load sample orders, request a report, download it.
 */
async function demo(): Promise<void> {
  const config = loadConfig();
  const service = await composeService(config);
  try {
    const base = await service.http.listen({ host: "127.0.0.1", port: 0 });
    if (service.devIssuer === undefined)
      throw new Error("the demo mints its own tokens: run it without JWT settings");
    console.log(`service composed: ${service.description}, listening on ${base}`);
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok)
        throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
      return response;
    };
    const adminToken = await service.devIssuer.issue({ subject: "demo-admin", roles: ["admin"] });
    const slug = `demo-${Date.now().toString(36)}`;
    const tenant = (await (
      await call(adminToken, "POST", "/tenants", { slug, name: "Demo Corp", plan: "pro" })
    ).json()) as { id: string };
    console.log(`1. created tenant ${slug} (${tenant.id})`);
    const token = (
      (await (
        await call(adminToken, "POST", "/dev/tokens", { subject: "demo-user", tenantId: tenant.id })
      ).json()) as { token: string }
    ).token;
    const { added } = (await (await call(token, "POST", "/orders/sample", { count: 5_000 })).json()) as {
      added: number;
    };
    console.log(`2. loaded ${added} sample orders`);
    const report = (await (await call(token, "POST", "/reports", { format: "xlsx" })).json()) as {
      id: string;
      rowCount: number;
      byteSize: number;
    };
    console.log(
      `3. generated report ${report.id}: ${report.rowCount} rows, ${report.byteSize} bytes, stored under tenants/${tenant.id}/reports/`,
    );
    const download = await call(token, "GET", `/reports/${report.id}`);
    const bytes = Buffer.from(await download.arrayBuffer());
    const folder = join(config.dataDir, "demo");
    await mkdir(folder, { recursive: true });
    const path = join(folder, `report-${report.id}.xlsx`);
    await writeFile(path, bytes);
    console.log(`4. downloaded ${bytes.length} bytes to ${path}`);
    console.log(`report: ${path} (${report.rowCount} rows)`);
  } finally {
    await service.close();
  }
}

demo().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
