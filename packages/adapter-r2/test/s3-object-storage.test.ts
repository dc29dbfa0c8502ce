import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { collectBytes, expectErrorCode, sleep, useFreshAdapter } from "@proj/contract-tests";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3CompatibleObjectStorage, type S3ObjectStorage } from "../src/index.js";
import { localHarness } from "./support/harness.js";
import { LOCAL_CREDENTIALS, type LocalS3Server, startLocalS3Server } from "./support/local-s3-server.js";

const MIB = 1024 * 1024;

/** `parts` chunks of 1 MiB, each filled with its index, generated on demand. */
async function* generated(mebibytes: number): AsyncGenerator<Uint8Array> {
  for (let index = 0; index < mebibytes; index++) yield Buffer.alloc(MIB, index % 251);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function streamedSha256(source: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of source) hash.update(chunk);
  return hash.digest("hex");
}

async function openUploads(server: LocalS3Server, bucket: string): Promise<string[]> {
  const listing = await server.admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (listing.Uploads ?? []).map((upload) => upload.Key ?? "");
}

let server: LocalS3Server;
beforeAll(async () => {
  server = await startLocalS3Server();
});
afterAll(async () => {
  await server?.close();
});

describe("streamed puts", () => {
  const store = useFreshAdapter(localHarness(() => server, { partSize: 5 * MIB, queueSize: 2 }));

  it("stores a stream of unknown length in parts and reads it back byte for byte", async () => {
    const expected = await streamedSha256(generated(12));
    const info = await store().put("big/object.bin", Readable.from(generated(12)), {
      contentType: "application/x-test",
      metadata: { origin: "generated" },
    });
    expect(info.size).toBe(12 * MIB);
    expect(info.metadata).toEqual({ origin: "generated" });
    const { body } = await store().get("big/object.bin");
    expect(await streamedSha256(body)).toBe(expected);
  });

  it("accepts Web streams and async iterables as bodies", async () => {
    const web = Readable.toWeb(Readable.from(generated(6))) as ReadableStream<Uint8Array>;
    await store().put("web", web);
    await store().put("iterable", generated(6));
    expect((await store().head("web")).size).toBe(6 * MIB);
    expect((await store().head("iterable")).size).toBe(6 * MIB);
  });

  it("aborts the multipart upload and keeps the previous object when the source stream fails", async () => {
    await store().put("victim", "previous");
    async function* failing() {
      yield* generated(6);
      throw new Error("the source broke");
    }
    await expect(store().put("victim", failing())).rejects.toMatchObject({ name: "InfrastructureError" });
    expect(await openUploads(server, store().bucket)).toEqual([]);
    expect(Buffer.from((await store().getBytes("victim")).bytes).toString()).toBe("previous");
  });

  it("rejects a cancelled put with CANCELLED and leaves no upload and the previous object", async () => {
    await store().put("victim", "previous");
    const controller = new AbortController();
    async function* stalling() {
      yield* generated(11);
      // Cancel once two parts are in flight or done, while the source still has more to give.
      controller.abort();
      await sleep(60_000);
    }
    await expectErrorCode(store().put("victim", stalling(), { signal: controller.signal }), "CANCELLED");
    expect(await openUploads(server, store().bucket)).toEqual([]);
    expect(Buffer.from((await store().getBytes("victim")).bytes).toString()).toBe("previous");
  });

  it("rejects with TIMEOUT when the signal came from AbortSignal.timeout", async () => {
    async function* stalling() {
      yield Buffer.alloc(1024);
      await sleep(60_000);
    }
    await expectErrorCode(store().put("slow", stalling(), { signal: AbortSignal.timeout(300) }), "TIMEOUT");
    expect(await store().exists("slow")).toBe(false);
  });

  it("aborts the uploads of a key that a killed process left, never a put of its own in flight", async () => {
    const bucket = store().bucket;
    // What a process SIGKILLed mid-put leaves: an upload with a part, which nobody will finish.
    const left = await server.admin.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "report" }));
    await server.admin.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: "report",
        UploadId: left.UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(MIB),
      }),
    );
    await server.admin.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "report-2" }));
    const controller = new AbortController();
    let started = () => {};
    const uploading = new Promise<void>((resolve) => (started = resolve));
    async function* stalling() {
      yield* generated(6);
      started();
      await sleep(60_000);
    }
    const own = store().put("report", stalling(), { signal: controller.signal });
    await uploading;
    // The own upload is created once its first part is full; wait until the server has it.
    for (
      let i = 0;
      i < 100 && (await openUploads(server, bucket)).filter((k) => k === "report").length < 2;
      i++
    )
      await sleep(50);
    expect((await openUploads(server, bucket)).sort()).toEqual(["report", "report", "report-2"]);

    expect(await store().abortStrayUploads("report")).toBe(1);
    expect((await openUploads(server, bucket)).sort()).toEqual(["report", "report-2"]);
    expect(await store().abortStrayUploads("report")).toBe(0);
    controller.abort();
    await expectErrorCode(own, "CANCELLED");
    expect(await openUploads(server, bucket)).toEqual(["report-2"]);
    expect(await store().abortStrayUploads("report-2")).toBe(1);
    expect(await openUploads(server, bucket)).toEqual([]);
    await expectErrorCode(store().abortStrayUploads(""), "INVALID_ARGUMENT");
  });

  it("stores a large byte array through the multipart path too", async () => {
    const bytes = Buffer.alloc(11 * MIB, 7);
    await store().put("array", bytes);
    const read = await store().getBytes("array");
    expect(sha256(read.bytes)).toBe(sha256(bytes));
  });
});

describe("reads", () => {
  const store = useFreshAdapter(localHarness(() => server));

  it("reports the whole object's size for a range read", async () => {
    await store().put("ranged", "0123456789");
    const { info, bytes } = await store().getBytes("ranged", { range: { start: 2, end: 4 } });
    expect(Buffer.from(bytes).toString()).toBe("234");
    expect(info.size).toBe(10);
  });

  it("fails the body with CANCELLED when the read is cancelled mid-stream", async () => {
    await store().put("long", Buffer.alloc(4 * MIB, 1));
    const controller = new AbortController();
    const { body } = await store().get("long", { signal: controller.signal });
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await expectErrorCode(collectBytes({ [Symbol.asyncIterator]: () => iterator }), "CANCELLED");
  });

  it("rejects a malformed range with INVALID_ARGUMENT before asking the server", async () => {
    await expectErrorCode(store().get("any", { range: { start: 5, end: 2 } }), "INVALID_ARGUMENT");
  });
});

describe("listing, copying and deleting", () => {
  const store = useFreshAdapter(localHarness(() => server));

  it("pages through a listing with continuation tokens", async () => {
    for (const key of ["p/a", "p/b", "p/c", "p/d", "p/e", "q/z"]) await store().put(key, key);
    const first = await store().listPage({ prefix: "p/", pageSize: 2 });
    expect(first.items.map((item) => item.key)).toEqual(["p/a", "p/b"]);
    expect(first.nextCursor).toBeDefined();
    const second = await store().listPage({ prefix: "p/", pageSize: 2, after: first.nextCursor });
    expect(second.items.map((item) => item.key)).toEqual(["p/c", "p/d"]);
    const keys: string[] = [];
    for await (const item of store().list({ prefix: "p/", pageSize: 2 })) keys.push(item.key);
    expect(keys).toEqual(["p/a", "p/b", "p/c", "p/d", "p/e"]);
  });

  it("deletes more than 1,000 keys, in batches", async () => {
    const keys = Array.from({ length: 1005 }, (_, index) => `bulk/${String(index).padStart(4, "0")}`);
    for (let start = 0; start < keys.length; start += 50) {
      await Promise.all(
        keys
          .slice(start, start + 50)
          .map((key) =>
            server.admin.send(new PutObjectCommand({ Bucket: store().bucket, Key: key, Body: "x" })),
          ),
      );
    }
    await store().deleteMany([...keys, "bulk/missing"]);
    const left = await store().listPage({ prefix: "bulk/" });
    expect(left.items).toEqual([]);
  });

  it("copies content, content type, cache control and metadata to a key with spaces and unicode", async () => {
    await store().put("source/ü x.txt", "copied", {
      contentType: "text/plain",
      cacheControl: "max-age=60",
      metadata: { "a-b": "1" },
    });
    const info = await store().copy("source/ü x.txt", "dest/ö y.txt");
    expect(info).toMatchObject({
      key: "dest/ö y.txt",
      size: 6,
      contentType: "text/plain",
      metadata: { "a-b": "1" },
    });
    expect(info.cacheControl).toBe("max-age=60");
    expect(Buffer.from((await store().getBytes("dest/ö y.txt")).bytes).toString()).toBe("copied");
  });
});

describe("signed URLs", () => {
  const store = useFreshAdapter(localHarness(() => server));

  it("downloads with a signed GET URL and plain fetch", async () => {
    await store().put("signed/get.txt", "downloadable");
    const url = await store().signedUrl("signed/get.txt", { method: "GET", expiresInSeconds: 60 });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("downloadable");
  });

  it("uploads with a signed PUT URL carrying the content type and no checksum of an empty body", async () => {
    const url = await store().signedUrl("signed/put.csv", {
      method: "PUT",
      expiresInSeconds: 60,
      contentType: "text/csv",
    });
    expect(new URL(url).searchParams.has("x-amz-checksum-crc32")).toBe(false);
    expect(new URL(url).searchParams.get("X-Amz-SignedHeaders")).toContain("content-type");
    const response = await fetch(url, {
      method: "PUT",
      body: "a,b\n1,2\n",
      headers: { "content-type": "text/csv" },
    });
    expect(response.status).toBe(200);
    const info = await store().head("signed/put.csv");
    expect(info.contentType).toBe("text/csv");
    expect(info.size).toBe(8);
  });

  it("stops working once expired", async () => {
    await store().put("signed/expiring", "soon gone");
    const url = await store().signedUrl("signed/expiring", { method: "GET", expiresInSeconds: 1 });
    await sleep(2_100);
    const response = await fetch(url);
    expect(response.status).toBe(403);
  });

  it("rejects an expiry outside 1 second to 7 days with INVALID_ARGUMENT", async () => {
    await expectErrorCode(store().signedUrl("k", { method: "GET", expiresInSeconds: 0 }), "INVALID_ARGUMENT");
    await expectErrorCode(
      store().signedUrl("k", { method: "GET", expiresInSeconds: 604_801 }),
      "INVALID_ARGUMENT",
    );
  });
});

describe("errors and lifecycle", () => {
  const store = useFreshAdapter(localHarness(() => server));

  it("rejects an unknown access key with UNAUTHENTICATED", async () => {
    const stranger = createS3CompatibleObjectStorage({
      endpoint: server.endpoint,
      forcePathStyle: true,
      bucket: store().bucket,
      credentials: { accessKeyId: "NOBODY", secretAccessKey: "nothing" },
    });
    // A HEAD answer has no body to name the error, so a GET is what tells the two 403s apart.
    await expectErrorCode(stranger.getBytes("anything"), "UNAUTHENTICATED");
    await stranger.close();
  });

  it("reports a missing bucket as NOT_FOUND", async () => {
    const elsewhere = createS3CompatibleObjectStorage({
      endpoint: server.endpoint,
      forcePathStyle: true,
      bucket: "no-such-bucket-here",
      credentials: LOCAL_CREDENTIALS,
    });
    const error = await expectErrorCode(elsewhere.getBytes("anything"), "NOT_FOUND");
    expect(error.details).toMatchObject({ s3Error: "NoSuchBucket" });
    await elsewhere.close();
  });

  it("rejects metadata keys outside [a-z0-9-] with INVALID_ARGUMENT", async () => {
    await expectErrorCode(store().put("m", "x", { metadata: { Upper: "1" } }), "INVALID_ARGUMENT");
    await expectErrorCode(store().put("m", "x", { metadata: { ok: "caf\u00e9" } }), "INVALID_ARGUMENT");
  });

  it("rejects ifNoneMatch with NOT_SUPPORTED where conditional puts are not enabled", async () => {
    expect(store().capabilities.conditionalPut).toBe(false);
    await expectErrorCode(store().put("c", "x", { ifNoneMatch: "*" }), "NOT_SUPPORTED");
  });

  it("keeps every store under its key prefix", async () => {
    const tenant = createS3CompatibleObjectStorage({
      endpoint: server.endpoint,
      forcePathStyle: true,
      bucket: store().bucket,
      credentials: LOCAL_CREDENTIALS,
      keyPrefix: "tenant-a/",
    });
    await tenant.put("doc", "inside");
    await store().put("outside", "x");
    expect(await store().exists("tenant-a/doc")).toBe(true);
    const keys: string[] = [];
    for await (const item of tenant.list()) keys.push(item.key);
    expect(keys).toEqual(["doc"]);
    await tenant.close();
  });

  it("fails every call with CLOSED after close, which is idempotent", async () => {
    const own: S3ObjectStorage = createS3CompatibleObjectStorage({
      endpoint: server.endpoint,
      forcePathStyle: true,
      bucket: store().bucket,
      credentials: LOCAL_CREDENTIALS,
    });
    await own[Symbol.asyncDispose]();
    await own.close();
    await expectErrorCode(own.put("k", "v"), "CLOSED");
    await expectErrorCode(own.head("k"), "CLOSED");
    await expectErrorCode(own.signedUrl("k", { method: "GET", expiresInSeconds: 5 }), "CLOSED");
    await expectErrorCode(async () => {
      for await (const _ of own.list()) break;
    }, "CLOSED");
  });
});
