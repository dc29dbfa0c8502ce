import { hostname } from "node:os";
import { composeWorker } from "./composition/compose.js";
import { ConfigurationError, loadConfig } from "./composition/config.js";
import { MissingAdapterError } from "./composition/load-adapter.js";

/**
 * A report worker process (`node dist/worker.js`): takes report jobs from QUEUE_URL and makes the
 * reports. Run as many as the load needs, on any host that reaches the database, the queue and
 * the storage. SIGTERM (or SIGINT) stops taking jobs; running reports get SHUTDOWN_GRACE_MS to
 * finish, then are given back to the queue for another worker, and the process exits.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const service = await composeWorker(config);
  console.log(
    `tenant-reports worker ${hostname()}:${process.pid} taking report jobs (${service.description})`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping (${service.worker.running} report(s) running)`);
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
  console.error(known ? `tenant-reports worker: ${error.message}` : error);
  process.exit(1);
});
