import { request } from "node:http";
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { uniqueName } from "@proj/contract-tests";
import { describe, it } from "vitest";
import { emptyBucket } from "./local-s3-server.js";

/**
 * Ceph's RADOS Gateway as `scripts/start-radosgw.sh` starts it: one node on loopback, objects in
 * memory, a test user with the key pair below (nothing secret: it only exists on that cluster).
 */
export const RADOSGW = {
  endpoint: process.env.RGW_ENDPOINT ?? "http://127.0.0.1:7480",
  credentials: { accessKeyId: "proj-test", secretAccessKey: "proj-test-secret" },
} as const;

/** Whether the gateway answers HTTP at all, within 3 s. */
export function radosgwAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request(RADOSGW.endpoint, { method: "GET", timeout: 3_000 }, (response) => {
      response.resume();
      resolve(true);
    });
    probe.on("timeout", () => probe.destroy());
    probe.on("error", () => resolve(false));
    probe.end();
  });
}

/** Buckets made and removed straight on the gateway, for setup and inspection. */
export function radosgwBuckets(): {
  admin: S3Client;
  createBucket(): Promise<string>;
  deleteBucket(bucket: string): Promise<void>;
  close(): void;
} {
  const admin = new S3Client({
    endpoint: RADOSGW.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: RADOSGW.credentials,
  });
  return {
    admin,
    async createBucket() {
      const bucket = uniqueName("rgw").replaceAll("_", "-");
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async deleteBucket(bucket) {
      const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const upload of uploads.Uploads ?? []) {
        await admin.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
        );
      }
      await emptyBucket(admin, bucket);
      await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    },
    close: () => admin.destroy(),
  };
}

/**
 * Registers `register`'s suites when the gateway answers. When it does not: under CI the run fails
 * with the reason (CI starts the gateway, so its absence is a broken setup); elsewhere the suites
 * are registered as skipped and a notice says why, so the skip shows in the report.
 */
export async function onRadosgw(label: string, register: () => void): Promise<void> {
  if (await radosgwAnswers()) {
    register();
    return;
  }
  const reason = `the RADOS Gateway does not answer at ${RADOSGW.endpoint}; start it with scripts/start-radosgw.sh`;
  if (process.env.CI && process.env.CI !== "false") {
    describe(label, () => {
      it("runs on the RADOS Gateway that CI starts", () => {
        throw new Error(`${label}: ${reason}`);
      });
    });
    return;
  }
  console.warn(`\n*** adapter-r2: ${label} SKIPPED: ${reason} ***\n`);
  describe.skip(`${label} (SKIPPED: ${reason})`, register);
}
