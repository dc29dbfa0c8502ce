import { expectErrorCode } from "@proj/contract-tests";
import { describe, expect, it } from "vitest";
import {
  createR2ObjectStorage,
  createS3CompatibleObjectStorage,
  createS3ObjectStorage,
  type S3ObjectStorage,
} from "../src/index.js";

const keys = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-real-secret" };

/** A signed URL shows where requests go and which region signs them, without any network. */
async function signedTarget(store: S3ObjectStorage) {
  const url = new URL(await store.signedUrl("docs/a b.txt", { method: "GET", expiresInSeconds: 60 }));
  await store.close();
  return { url, credential: url.searchParams.get("X-Amz-Credential") ?? "" };
}

describe("factories", () => {
  it("points an R2 store at <account>.r2.cloudflarestorage.com and signs for region auto", async () => {
    const { url, credential } = await signedTarget(
      createR2ObjectStorage({ accountId: "0123abcd", bucket: "media", ...keys }),
    );
    expect(url.protocol).toBe("https:");
    expect(url.hostname).toMatch(/(^|\.)0123abcd\.r2\.cloudflarestorage\.com$/);
    expect(`${url.hostname}${url.pathname}`).toContain("media");
    expect(credential.split("/")[2]).toBe("auto");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("adds the jurisdiction to the R2 endpoint", async () => {
    const { url } = await signedTarget(
      createR2ObjectStorage({ accountId: "0123abcd", bucket: "media", jurisdiction: "eu", ...keys }),
    );
    expect(url.hostname).toMatch(/0123abcd\.eu\.r2\.cloudflarestorage\.com$/);
  });

  it("points an S3 store at the region's AWS endpoint", async () => {
    const { url, credential } = await signedTarget(
      createS3ObjectStorage({ region: "eu-west-1", bucket: "media", credentials: keys }),
    );
    expect(url.hostname).toBe("media.s3.eu-west-1.amazonaws.com");
    expect(credential.split("/")[2]).toBe("eu-west-1");
  });

  it("uses path-style URLs on an S3-compatible endpoint when asked", async () => {
    const { url, credential } = await signedTarget(
      createS3CompatibleObjectStorage({
        endpoint: "http://127.0.0.1:9000",
        forcePathStyle: true,
        bucket: "media",
        credentials: keys,
      }),
    );
    expect(url.origin).toBe("http://127.0.0.1:9000");
    expect(url.pathname).toBe("/media/docs/a%20b.txt");
    expect(credential.split("/")[2]).toBe("us-east-1");
  });

  it("declares conditional puts on R2 and S3, and on other endpoints only when enabled", () => {
    const compatible = {
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      bucket: "b",
      credentials: keys,
    };
    expect(
      createR2ObjectStorage({ accountId: "abc", bucket: "b", ...keys }).capabilities.conditionalPut,
    ).toBe(true);
    expect(createS3ObjectStorage({ region: "us-east-1", bucket: "b" }).capabilities.conditionalPut).toBe(
      true,
    );
    expect(createS3CompatibleObjectStorage(compatible).capabilities.conditionalPut).toBe(false);
    expect(
      createS3CompatibleObjectStorage({ ...compatible, conditionalPut: true }).capabilities.conditionalPut,
    ).toBe(true);
  });

  it("rejects unusable options with INVALID_ARGUMENT", async () => {
    await expectErrorCode(
      () => createR2ObjectStorage({ accountId: "no/slashes", bucket: "b", ...keys }),
      "INVALID_ARGUMENT",
    );
    await expectErrorCode(
      () =>
        createS3CompatibleObjectStorage({
          endpoint: "not a url",
          forcePathStyle: true,
          bucket: "b",
          credentials: keys,
        }),
      "INVALID_ARGUMENT",
    );
    await expectErrorCode(
      () => createS3ObjectStorage({ region: "us-east-1", bucket: "b", partSize: 1024 * 1024 }),
      "INVALID_ARGUMENT",
    );
    await expectErrorCode(
      () => createS3ObjectStorage({ region: "us-east-1", bucket: "" }),
      "INVALID_ARGUMENT",
    );
  });
});
