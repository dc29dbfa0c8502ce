export { mapS3Error } from "./map-s3-error.js";
export {
  createR2ObjectStorage,
  createS3CompatibleObjectStorage,
  createS3ObjectStorage,
  type R2ObjectStorageOptions,
  type S3CompatibleObjectStorageOptions,
  type S3ObjectStorageOptions,
} from "./r2-object-storage.js";
export type { S3CallOptions, S3CommonOptions, S3ObjectStorage } from "./s3-object-storage.js";
