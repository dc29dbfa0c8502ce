import { objectStorageContract } from "@proj/contract-tests";
import { afterAll, beforeAll, describe } from "vitest";
import {
  createR2ObjectStorage,
  createS3CompatibleObjectStorage,
  type S3ObjectStorage,
} from "../src/index.js";
import { localHarness } from "./support/harness.js";
import { type LocalS3Server, startLocalS3Server } from "./support/local-s3-server.js";
import { onRadosgw, RADOSGW } from "./support/radosgw.js";
import { type RealStore, realStoreContract } from "./support/real-store.js";

let server: LocalS3Server;
beforeAll(async () => {
  server = await startLocalS3Server();
});
afterAll(async () => {
  await server?.close();
});

// A 5 MiB part size sends the suite's 8 MiB streamed body through a real multipart upload.
const local = localHarness(() => server, { partSize: 5 * 1024 * 1024 });
objectStorageContract("adapter-r2 on a local s3rver", {
  create: local.create,
  destroy: (storage) => local.destroy!(storage as S3ObjectStorage),
  capabilities: { signedUrls: true, conditionalPut: false, rangeReads: true },
});

/**
 * A real store from the environment, or undefined. Each test gets a bucket of its own, created
 * before and deleted after it (so the credentials must be allowed to create and delete buckets):
 * a per-test key prefix would count against the 1024-byte key limit and fail the contract's
 * longest-key case.
 */
function realStore(): RealStore | undefined {
  const env = process.env;
  if (env.R2_ACCOUNT_ID && env.R2_ACCESS_KEY_ID && env.R2_SECRET_ACCESS_KEY) {
    const {
      R2_ACCOUNT_ID: accountId,
      R2_ACCESS_KEY_ID: accessKeyId,
      R2_SECRET_ACCESS_KEY: secretAccessKey,
    } = env;
    return {
      label: "Cloudflare R2",
      conditionalPut: true,
      open: (bucket) =>
        createR2ObjectStorage({
          accountId,
          accessKeyId,
          secretAccessKey,
          bucket,
          ...(env.R2_JURISDICTION ? { jurisdiction: env.R2_JURISDICTION } : {}),
        }),
    };
  }
  if (env.S3_ENDPOINT && env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY) {
    const credentials = { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY };
    return {
      label: `S3-compatible endpoint ${env.S3_ENDPOINT}`,
      conditionalPut: env.S3_CONDITIONAL_PUT === "true",
      open: (bucket) =>
        createS3CompatibleObjectStorage({
          endpoint: env.S3_ENDPOINT as string,
          bucket,
          region: env.S3_REGION ?? "us-east-1",
          forcePathStyle: env.S3_FORCE_PATH_STYLE !== "false",
          credentials,
          conditionalPut: env.S3_CONDITIONAL_PUT === "true",
        }),
    };
  }
  return undefined;
}

const real = realStore();
if (real === undefined) {
  console.info(
    "adapter-r2: contract on your own store skipped; set R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY (or S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY) to run it",
  );
}
describe.skipIf(real === undefined)(`real store: ${real?.label ?? "none configured"}`, () => {
  if (real !== undefined) realStoreContract(real);
});

await onRadosgw("real store: Ceph RADOS Gateway", () =>
  realStoreContract({
    label: "Ceph RADOS Gateway",
    conditionalPut: true,
    open: (bucket) =>
      createS3CompatibleObjectStorage({
        endpoint: RADOSGW.endpoint,
        forcePathStyle: true,
        credentials: RADOSGW.credentials,
        bucket,
        conditionalPut: true,
      }),
  }),
);
