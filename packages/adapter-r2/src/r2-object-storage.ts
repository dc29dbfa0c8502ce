import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { InfrastructureError } from "@proj/ports";
import {
  createS3BackedObjectStorage,
  type S3CommonOptions,
  type S3ObjectStorage,
} from "./s3-object-storage.js";

export interface R2ObjectStorageOptions extends S3CommonOptions {
  /** The Cloudflare account id; the endpoint is `https://<accountId>.r2.cloudflarestorage.com`. */
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** For buckets created in a jurisdiction (`eu`, `fedramp`): the endpoint gains that label. */
  jurisdiction?: string;
}

export interface S3ObjectStorageOptions extends S3CommonOptions {
  /** The bucket's AWS region, e.g. `eu-west-1`. */
  region: string;
  /** Default: the AWS SDK's provider chain (environment, shared config, instance role...). */
  credentials?: S3ClientConfig["credentials"];
}

export interface S3CompatibleObjectStorageOptions extends S3CommonOptions {
  /** Base URL of the S3 API, e.g. `http://127.0.0.1:9000`. */
  endpoint: string;
  /** Default `us-east-1`, which most S3-compatible servers expect in the signature. */
  region?: string;
  /** `true` for `endpoint/bucket/key` URLs (MinIO, most self-hosted servers); `false` for `bucket.endpoint/key`. */
  forcePathStyle: boolean;
  credentials: S3ClientConfig["credentials"];
}

const ACCOUNT_ID = /^[a-z0-9]+$/i;
const JURISDICTION = /^[a-z]+$/;

/** `ObjectStorage` on a Cloudflare R2 bucket. */
export function createR2ObjectStorage(options: R2ObjectStorageOptions): S3ObjectStorage {
  const { accountId, jurisdiction } = options;
  if (typeof accountId !== "string" || !ACCOUNT_ID.test(accountId)) {
    throw new InfrastructureError("INVALID_ARGUMENT", "accountId must be a Cloudflare account id");
  }
  if (jurisdiction !== undefined && !JURISDICTION.test(jurisdiction)) {
    throw new InfrastructureError("INVALID_ARGUMENT", "jurisdiction must be a lower-case name such as eu");
  }
  const host = `${accountId}.${jurisdiction !== undefined ? `${jurisdiction}.` : ""}r2.cloudflarestorage.com`;
  return createS3BackedObjectStorage(
    {
      region: "auto",
      endpoint: `https://${host}`,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    },
    options,
    true,
  );
}

/** `ObjectStorage` on an AWS S3 bucket. */
export function createS3ObjectStorage(options: S3ObjectStorageOptions): S3ObjectStorage {
  return createS3BackedObjectStorage(
    {
      region: options.region,
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    },
    options,
    true,
  );
}

/**
 * `ObjectStorage` on any S3-compatible endpoint (MinIO, Ceph, Garage, a local test server...).
 * Conditional puts are off unless `conditionalPut: true`, since many such servers ignore them.
 */
export function createS3CompatibleObjectStorage(options: S3CompatibleObjectStorageOptions): S3ObjectStorage {
  if (typeof options.endpoint !== "string" || !URL.canParse(options.endpoint)) {
    throw new InfrastructureError("INVALID_ARGUMENT", "endpoint must be an absolute URL");
  }
  return createS3BackedObjectStorage(
    {
      region: options.region ?? "us-east-1",
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
    },
    options,
    false,
  );
}
