import { composeService } from "./composition/compose.js";
import { ConfigurationError, loadConfig } from "./composition/config.js";
import { MissingAdapterError } from "./composition/load-adapter.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const service = await composeService(config);
  const address = await service.http.listen({ host: config.host, port: config.port });
  console.log(`tenant-reports listening on ${address} (${service.description})`);
  if (service.devIssuer !== undefined) {
    const token = await service.devIssuer.issue({
      subject: "dev-admin",
      roles: ["admin"],
      expiresInSeconds: 12 * 3600,
    });
    console.log(
      "development mode: no JWT settings, so tokens are signed with a key kept in the data folder.",
    );
    console.log(`admin token (12 h), for the commands below:\n  export TOKEN=${token}`);
    console.log(`try:\n  curl -s -H "authorization: Bearer $TOKEN" ${address}/tenants`);
    console.log(
      `  curl -s -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"slug":"acme","name":"Acme","plan":"pro"}' ${address}/tenants`,
    );
    console.log("  then `pnpm demo` drives a whole flow (tenant, orders, report, download).");
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing`);
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("shutdown failed", error);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigurationError || error instanceof MissingAdapterError;
  console.error(known ? `tenant-reports: ${error.message}` : error);
  process.exit(1);
});
