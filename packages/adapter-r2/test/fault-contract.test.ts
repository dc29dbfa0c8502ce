import { objectStorageFaultContract } from "@proj/contract-tests";
import { afterAll, beforeAll } from "vitest";
import { faultHarness } from "./support/fault-harness.js";
import { LOCAL_CREDENTIALS, type LocalS3Server, startLocalS3Server } from "./support/local-s3-server.js";
import { onRadosgw, RADOSGW, radosgwBuckets } from "./support/radosgw.js";

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

const radosgw = radosgwBuckets();
afterAll(() => radosgw.close());
await onRadosgw("fault suite on the Ceph RADOS Gateway", () =>
  objectStorageFaultContract(
    "adapter-r2 on the Ceph RADOS Gateway",
    faultHarness(() => ({
      endpoint: RADOSGW.endpoint,
      admin: radosgw.admin,
      credentials: RADOSGW.credentials,
      createBucket: radosgw.createBucket,
      deleteBucket: radosgw.deleteBucket,
      conditionalPut: true,
    })),
  ),
);
