import { mergeConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared";

// s3rver, the local test server, signs ListObjectsV2 continuation tokens with DES, which Node 20's
// OpenSSL 3 only provides through its legacy provider.
export default mergeConfig(sharedTestConfig, { test: { execArgv: ["--openssl-legacy-provider"] } });
