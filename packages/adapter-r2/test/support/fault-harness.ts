import { ListMultipartUploadsCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ObjectStorageFaultHarness } from "@proj/contract-tests";
import type { ObjectStorage } from "@proj/ports";
import {
  createS3CompatibleObjectStorage,
  type S3CompatibleObjectStorageOptions,
  type S3ObjectStorage,
} from "../../src/index.js";

/** Short deadlines so every fault case settles in seconds; the bounds below follow from them. */
export const FAULT_TIMEOUTS = { timeoutMs: 4_000, idleTimeoutMs: 1_500, maxAttempts: 3 } as const;

/** What the fault suite needs of an S3 server: where it is, how to sign, how to make and drop buckets. */
export interface FaultServer {
  endpoint: string;
  admin: S3Client;
  credentials: S3CompatibleObjectStorageOptions["credentials"];
  createBucket(): Promise<string>;
  deleteBucket(bucket: string): Promise<void>;
  conditionalPut: boolean;
}

const PART_SIZE = 5 * 1024 * 1024;

/** The fault suite's harness for adapter-r2 on `server()`, a bucket per test. */
export function faultHarness(server: () => FaultServer): ObjectStorageFaultHarness {
  const open = (endpoint: string, bucket: string) =>
    createS3CompatibleObjectStorage({
      endpoint,
      forcePathStyle: true,
      credentials: server().credentials,
      bucket,
      partSize: PART_SIZE,
      conditionalPut: server().conditionalPut,
      ...FAULT_TIMEOUTS,
    });
  return {
    target() {
      const { hostname, port } = new URL(server().endpoint);
      return { host: hostname, port: Number(port) };
    },
    async create(via) {
      return open(`http://${via.host}:${via.port}`, await server().createBucket());
    },
    async direct(store) {
      return open(server().endpoint, (store as S3ObjectStorage).bucket);
    },
    async openUploads(store: ObjectStorage) {
      const listing = await server().admin.send(
        new ListMultipartUploadsCommand({ Bucket: (store as S3ObjectStorage).bucket }),
      );
      return (listing.Uploads ?? []).map((upload) => upload.Key ?? "");
    },
    async destroy(store) {
      await store.close();
      await server().deleteBucket((store as S3ObjectStorage).bucket);
    },
    deadlines: {
      callMs: FAULT_TIMEOUTS.timeoutMs,
      // The failing request, then finding out what happened or aborting the upload, each bounded.
      putMs: 3 * FAULT_TIMEOUTS.timeoutMs,
      idleMs: FAULT_TIMEOUTS.idleTimeoutMs,
      // The background abort tries again at most 5 s apart, each try within the call deadline.
      cleanupMs: 5_000 + FAULT_TIMEOUTS.timeoutMs,
    },
    partSize: PART_SIZE,
    capabilities: { conditionalPut: server().conditionalPut },
  };
}
