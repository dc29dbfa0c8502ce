import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SigningS3rver from "@20minutes/s3rver";
import { expectErrorCode, uniqueName } from "@proj/contract-tests";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3CompatibleObjectStorage, type S3ObjectStorage } from "../src/index.js";
import { LOCAL_CREDENTIALS } from "./support/local-s3-server.js";

/*
 * s3rver 3.7.1 does not check SigV4 signatures at all, so a wrongly signed request or URL would
 * pass there. Its maintained fork @20minutes/s3rver 4.0.4 does check them (header-signed requests
 * and presigned URLs); it mis-verifies bucket-level requests (listing, bucket creation), so it
 * only runs the object-level checks here, on a bucket it creates at start-up.
 */
let server: SigningS3rver;
let directory: string;
let store: S3ObjectStorage;
let endpoint: string;
const bucket = uniqueName("signed").replaceAll("_", "-");

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "adapter-r2-sigv4-"));
  server = new SigningS3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  store = createS3CompatibleObjectStorage({
    endpoint,
    bucket,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
});
afterAll(async () => {
  await store?.close();
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

describe("SigV4 signatures checked by the server", () => {
  it("signs puts with checksums, gets, heads and copies so the server accepts them", async () => {
    await store.put("a b/ü.txt", "signed content", { contentType: "text/plain", metadata: { tag: "x" } });
    await store.copy("a b/ü.txt", "copy/ü.txt");
    expect((await store.head("copy/ü.txt")).metadata).toEqual({ tag: "x" });
    expect(Buffer.from((await store.getBytes("copy/ü.txt")).bytes).toString()).toBe("signed content");
  });

  it("reports a wrong secret key as UNAUTHENTICATED", async () => {
    const forger = createS3CompatibleObjectStorage({
      endpoint,
      bucket,
      forcePathStyle: true,
      credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: "not the secret" },
    });
    const error = await expectErrorCode(forger.getBytes("a b/ü.txt"), "UNAUTHENTICATED");
    expect(error.details).toMatchObject({ s3Error: "SignatureDoesNotMatch" });
    expect(error.message).not.toContain("not the secret");
    await forger.close();
  });

  it("makes GET URLs that work as signed and fail once altered", async () => {
    await store.put("url/ü.txt", "via url");
    const url = await store.signedUrl("url/ü.txt", { method: "GET", expiresInSeconds: 60 });
    expect(await (await fetch(url)).text()).toBe("via url");
    const forged = new URL(url);
    forged.searchParams.set("X-Amz-Signature", "0".repeat(64));
    expect((await fetch(forged)).status).toBe(403);
    const otherKey = new URL(url);
    otherKey.pathname = otherKey.pathname.replace("url/", "copy/");
    expect((await fetch(otherKey)).status).toBe(403);
  });

  it("makes PUT URLs that accept only the signed content type", async () => {
    const url = await store.signedUrl("url/upload.csv", {
      method: "PUT",
      expiresInSeconds: 60,
      contentType: "text/csv",
    });
    const wrongType = await fetch(url, {
      method: "PUT",
      body: "a,b",
      headers: { "content-type": "text/plain" },
    });
    expect(wrongType.status).toBe(403);
    const rightType = await fetch(url, {
      method: "PUT",
      body: "a,b",
      headers: { "content-type": "text/csv" },
    });
    expect(rightType.status).toBe(200);
    expect((await store.head("url/upload.csv")).contentType).toBe("text/csv");
  });
});
