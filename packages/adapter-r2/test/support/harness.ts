import type { ContractHarness } from "@proj/contract-tests";
import {
  createS3CompatibleObjectStorage,
  type S3CommonOptions,
  type S3ObjectStorage,
} from "../../src/index.js";
import { LOCAL_CREDENTIALS, type LocalS3Server } from "./local-s3-server.js";

/** Stores on a fresh bucket of the local server; `destroy` empties and deletes the bucket. */
export function localHarness(
  server: () => LocalS3Server,
  options: Partial<S3CommonOptions> & { endpoint?: () => string } = {},
): ContractHarness<S3ObjectStorage> {
  const { endpoint, ...common } = options;
  return {
    async create() {
      const bucket = await server().createBucket();
      return createS3CompatibleObjectStorage({
        endpoint: endpoint?.() ?? server().endpoint,
        forcePathStyle: true,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 2,
        ...common,
        bucket,
      });
    },
    async destroy(store) {
      await store.close();
      await server().deleteBucket(store.bucket);
    },
  };
}
