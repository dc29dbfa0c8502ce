import { CreateBucketCommand, DeleteBucketCommand } from "@aws-sdk/client-s3";
import { type ObjectStorageHarness, objectStorageContract, uniqueName } from "@proj/contract-tests";
import type { S3ObjectStorage } from "../../src/index.js";

/** A store reached over the network, opened on a bucket by name. */
export interface RealStore {
  label: string;
  conditionalPut: boolean;
  open(bucket: string): S3ObjectStorage;
}

/**
 * The `ObjectStorage` contract on a real store, each test on a bucket of its own (no key prefix,
 * so the contract's 1024-byte keys fit), emptied and deleted afterwards.
 */
export function realStoreContract(real: RealStore): void {
  const harness: ObjectStorageHarness = {
    async create() {
      const bucket = uniqueName("contract").replaceAll("_", "-");
      const store = real.open(bucket);
      await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
      return store;
    },
    async destroy(storage) {
      const { bucket } = storage as S3ObjectStorage;
      // The test may have closed its store: clean up through a fresh one on the same bucket.
      const cleaner = real.open(bucket);
      try {
        const keys: string[] = [];
        for await (const item of cleaner.list()) keys.push(item.key);
        await cleaner.deleteMany(keys);
        await cleaner.client.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        await cleaner.close();
        await storage.close();
      }
    },
    capabilities: { signedUrls: true, conditionalPut: real.conditionalPut, rangeReads: true },
  };
  objectStorageContract(real.label, harness);
}
