import { mergeConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared";

// The S3 compositions run against s3rver, which signs ListObjectsV2 continuation tokens with DES,
// only available from Node 20's OpenSSL 3 through its legacy provider.
export default mergeConfig(sharedTestConfig, {
  test: { execArgv: ["--openssl-legacy-provider"], testTimeout: 60_000 },
});
