import { type ObjectStorageHarness, objectStorageContract, uniqueName } from "@proj/contract-tests";
import { afterAll, beforeAll, describe } from "vitest";
import {
  createR2ObjectStorage,
  createS3CompatibleObjectStorage,
  type S3ObjectStorage,
} from "../src/index.js";
import { localHarness } from "./support/harness.js";
import { type LocalS3Server, startLocalS3Server } from "./support/local-s3-server.js";

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

/** A real bucket from the environment, or undefined. Each test gets a key prefix of its own. */
function realStore():
  | { label: string; open: (keyPrefix: string) => S3ObjectStorage; conditionalPut: boolean }
  | undefined {
  const env = process.env;
  if (env.R2_ACCOUNT_ID && env.R2_ACCESS_KEY_ID && env.R2_SECRET_ACCESS_KEY && env.R2_BUCKET) {
    const {
      R2_ACCOUNT_ID: accountId,
      R2_ACCESS_KEY_ID: accessKeyId,
      R2_SECRET_ACCESS_KEY: secretAccessKey,
    } = env;
    return {
      label: "Cloudflare R2",
      conditionalPut: true,
      open: (keyPrefix) =>
        createR2ObjectStorage({
          accountId,
          accessKeyId,
          secretAccessKey,
          bucket: env.R2_BUCKET as string,
          keyPrefix,
          ...(env.R2_JURISDICTION ? { jurisdiction: env.R2_JURISDICTION } : {}),
        }),
    };
  }
  if (env.S3_ENDPOINT && env.S3_BUCKET && env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY) {
    const credentials = { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY };
    return {
      label: `S3-compatible endpoint ${env.S3_ENDPOINT}`,
      conditionalPut: env.S3_CONDITIONAL_PUT === "true",
      open: (keyPrefix) =>
        createS3CompatibleObjectStorage({
          endpoint: env.S3_ENDPOINT as string,
          bucket: env.S3_BUCKET as string,
          region: env.S3_REGION ?? "us-east-1",
          forcePathStyle: env.S3_FORCE_PATH_STYLE !== "false",
          credentials,
          keyPrefix,
          conditionalPut: env.S3_CONDITIONAL_PUT === "true",
        }),
    };
  }
  return undefined;
}

const real = realStore();
if (real === undefined) {
  console.info(
    "adapter-r2: real-store contract skipped; set R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET (or S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY) to run it",
  );
}

describe.skipIf(real === undefined)(`real store: ${real?.label ?? "none configured"}`, () => {
  const harness: ObjectStorageHarness = {
    create: async () => real!.open(`${uniqueName("contract")}/`),
    destroy: async (storage) => {
      const store = storage as S3ObjectStorage;
      // The store may have been closed by the test: clean up through a fresh one on the same prefix.
      const cleaner = real!.open(store.keyPrefix);
      const keys: string[] = [];
      for await (const item of cleaner.list()) keys.push(item.key);
      await cleaner.deleteMany(keys);
      await cleaner.close();
      await store.close();
    },
    capabilities: { signedUrls: true, conditionalPut: real?.conditionalPut ?? false, rangeReads: true },
  };
  objectStorageContract(real?.label ?? "real store", harness);
});
