import { objectStorageFaultContract } from "@proj/contract-tests";
import { afterAll, beforeAll } from "vitest";
import { faultHarness } from "./support/fault-harness.js";
import { LOCAL_CREDENTIALS, type LocalS3Server, startLocalS3Server } from "./support/local-s3-server.js";

let server: LocalS3Server;
beforeAll(async () => {
  server = await startLocalS3Server();
});
afterAll(async () => {
  await server?.close();
});

objectStorageFaultContract(
  "adapter-r2 on a local s3rver",
  faultHarness(() => ({ ...server, credentials: LOCAL_CREDENTIALS, conditionalPut: false })),
);
