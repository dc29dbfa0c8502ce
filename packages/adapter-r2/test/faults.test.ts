import { createServer } from "node:net";
import { Readable } from "node:stream";
import { ListMultipartUploadsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { expectErrorCode, expectFailsWithin } from "@proj/contract-tests";
import { isOutcomeUnknown } from "@proj/ports";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createS3CompatibleObjectStorage, type S3CommonOptions, type S3ObjectStorage } from "../src/index.js";
import {
  type Fault,
  type FaultProxy,
  isUploadPart,
  type ProxiedRequest,
  startFaultProxy,
} from "./support/fault-proxy.js";
import { LOCAL_CREDENTIALS, type LocalS3Server, startLocalS3Server } from "./support/local-s3-server.js";

const MIB = 1024 * 1024;

async function* generated(mebibytes: number): AsyncGenerator<Uint8Array> {
  for (let index = 0; index < mebibytes; index++) yield Buffer.alloc(MIB, index);
}

let server: LocalS3Server;
let bucket: string;
let proxy: FaultProxy | undefined;
let store: S3ObjectStorage | undefined;

beforeAll(async () => {
  server = await startLocalS3Server();
});
afterAll(async () => {
  await server?.close();
});
beforeEach(async () => {
  bucket = await server.createBucket();
});
afterEach(async () => {
  await store?.close();
  await proxy?.close();
  store = undefined;
  proxy = undefined;
  await server.deleteBucket(bucket);
});

/** A store that talks to the local server through a proxy injecting the faults `decide` picks. */
async function storeBehind(
  decide: (request: ProxiedRequest, index: number) => Fault,
  options: Partial<S3CommonOptions> = {},
): Promise<{ store: S3ObjectStorage; proxy: FaultProxy }> {
  proxy = await startFaultProxy(server.endpoint, decide);
  store = createS3CompatibleObjectStorage({
    endpoint: proxy.endpoint,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
    bucket,
    maxAttempts: 3,
    ...options,
  });
  return { store, proxy };
}

async function openUploads(): Promise<string[]> {
  const listing = await server.admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (listing.Uploads ?? []).map((upload) => upload.Key ?? "");
}

const forward = (): Fault => "forward";
const unavailable: Fault = { status: 503, code: "SlowDown" };

describe("retries", () => {
  it("retries throttling answers and succeeds when the server recovers", async () => {
    const { store, proxy } = await storeBehind((_, index) => (index < 2 ? unavailable : "forward"));
    await store.put("retried", "made it");
    const puts = proxy.requests.filter((request) => request.method === "PUT");
    expect(puts).toHaveLength(3);
    expect(Buffer.from((await store.getBytes("retried")).bytes).toString()).toBe("made it");
  });

  it("gives up after maxAttempts with a retryable UNAVAILABLE", async () => {
    const { store, proxy } = await storeBehind(() => ({ status: 503, code: "ServiceUnavailable" }), {
      maxAttempts: 3,
    });
    const error = await expectErrorCode(store.getBytes("anything"), "UNAVAILABLE");
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ httpStatus: 503 });
    expect(proxy.requests).toHaveLength(3);
  });

  it("reports a refused connection as UNAVAILABLE", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    store = createS3CompatibleObjectStorage({
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
      bucket,
      maxAttempts: 2,
    });
    await expectErrorCode(store.head("anything"), "UNAVAILABLE");
  });

  it("reports a server that stops answering as TIMEOUT", async () => {
    const { store } = await storeBehind(() => "hang", { idleTimeoutMs: 300, maxAttempts: 1 });
    await expectErrorCode(store.head("anything"), "TIMEOUT");
  });
});

describe("multipart uploads under faults", () => {
  const options = { partSize: 5 * MIB, queueSize: 2 };

  it("retries a part whose connection dropped mid-upload and stores the whole object", async () => {
    let dropped = 0;
    const { store, proxy } = await storeBehind((request) => {
      if (isUploadPart(request) && dropped === 0) {
        dropped += 1;
        return "drop";
      }
      return "forward";
    }, options);
    await store.put("resilient", Readable.from(generated(12)));
    expect(proxy.requests.filter(isUploadPart).length).toBe(4);
    expect((await store.head("resilient")).size).toBe(12 * MIB);
    expect(await openUploads()).toEqual([]);
  });

  it("fails with UNAVAILABLE and aborts the multipart upload when parts keep failing", async () => {
    const { store, proxy } = await storeBehind(
      (request) => (isUploadPart(request) ? "drop" : "forward"),
      options,
    );
    await store.put("doomed", "previous");
    await expectErrorCode(store.put("doomed", Readable.from(generated(12))), "UNAVAILABLE");
    expect(
      proxy.requests.some((request) => request.method === "DELETE" && request.url.includes("uploadId=")),
    ).toBe(true);
    expect(await openUploads()).toEqual([]);
    expect(Buffer.from((await store.getBytes("doomed")).bytes).toString()).toBe("previous");
  });

  it("aborts the multipart upload when completing it fails", async () => {
    const { store } = await storeBehind(
      (request) =>
        request.method === "POST" && request.url.includes("uploadId=")
          ? { status: 500, code: "InternalError" }
          : "forward",
      options,
    );
    await expectErrorCode(store.put("incomplete", Readable.from(generated(12))), "UNAVAILABLE");
    expect(await openUploads()).toEqual([]);
    expect(await store.exists("incomplete")).toBe(false);
  });
});

describe("batches and checksums on the wire", () => {
  it("sends deleteMany in batches of at most 1,000 keys", async () => {
    const keys = Array.from({ length: 1001 }, (_, index) => `bulk/${index}`);
    await server.admin.send(new PutObjectCommand({ Bucket: bucket, Key: "bulk/1000", Body: "x" }));
    const { store, proxy } = await storeBehind(forward);
    await store.deleteMany(keys);
    const batches = proxy.requests.filter(
      (request) => request.method === "POST" && request.url.includes("delete"),
    );
    expect(batches).toHaveLength(2);
    expect(await store.exists("bulk/1000")).toBe(false);
  });

  it("surfaces a per-key failure of DeleteObjects with its code and the failed keys", async () => {
    const answer = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult><Error><Key>locked</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`;
    const { store } = await storeBehind((request) =>
      request.method === "POST" && request.url.includes("delete")
        ? { status: 200, code: "", body: answer }
        : "forward",
    );
    const error = await expectErrorCode(store.deleteMany(["locked", "free"]), "PERMISSION_DENIED");
    expect(error.details).toMatchObject({ failedKeys: [{ key: "locked", code: "AccessDenied" }] });
  });

  it("sends CRC32 checksums with uploads by default, as headers and never as aws-chunked trailers", async () => {
    const { store, proxy } = await storeBehind(forward, { partSize: 5 * MIB });
    await store.put("checked", "with a checksum");
    await store.put("checked-streamed", Readable.from(generated(6)));
    const uploads = proxy.requests.filter((request) => request.method === "PUT");
    expect(uploads).toHaveLength(3);
    for (const upload of uploads) {
      expect(upload.headers["x-amz-checksum-crc32"]).toBeDefined();
      expect(upload.headers["content-encoding"] ?? "").not.toContain("aws-chunked");
      expect(upload.headers["x-amz-content-sha256"] ?? "").not.toMatch(/^STREAMING-/);
    }
    await store.getBytes("checked");
    const get = proxy.requests.find((request) => request.method === "GET");
    expect(get?.headers["x-amz-checksum-mode"]).toBe("ENABLED");
  });

  it("sends no checksum headers with requestChecksumCalculation WHEN_REQUIRED", async () => {
    const { store, proxy } = await storeBehind(forward, {
      partSize: 5 * MIB,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    await store.put("plain", "without a checksum");
    await store.put("plain-streamed", Readable.from(generated(6)), { contentType: "application/x-test" });
    const uploads = proxy.requests.filter((request) => request.method === "PUT");
    expect(uploads.length).toBeGreaterThanOrEqual(3);
    for (const upload of uploads) {
      expect(Object.keys(upload.headers).filter((name) => name.startsWith("x-amz-checksum-"))).toEqual([]);
    }
    expect((await store.head("plain-streamed")).size).toBe(6 * MIB);
  });
});

describe("deadlines", () => {
  it("bounds a call on a silent server by the default 30 s deadline, retries included", async () => {
    const { store } = await storeBehind(() => "hang", { maxAttempts: 4 });
    const error = await expectFailsWithin(store.head("anything"), 30_000 + 10_000, "TIMEOUT", "a head");
    expect(error.details).toMatchObject({ timeoutMs: 30_000 });
    expect(error.retryable).toBe(true);
  }, 60_000);

  it("keeps retries after idle timeouts inside the deadline", async () => {
    const { store, proxy } = await storeBehind(() => "hang", {
      idleTimeoutMs: 1_000,
      maxAttempts: 10,
      timeoutMs: 2_500,
    });
    await expectFailsWithin(store.head("anything"), 2_500 + 5_000, "TIMEOUT", "a head");
    expect(proxy.requests.length).toBeLessThanOrEqual(3);
  });

  it("takes a call's own timeoutMs over the store's", async () => {
    const { store } = await storeBehind(() => "hang", { timeoutMs: 120_000, idleTimeoutMs: 60_000 });
    const error = await expectFailsWithin(store.head("anything", { timeoutMs: 500 }), 5_000, "TIMEOUT");
    expect(error.details).toMatchObject({ timeoutMs: 500 });
  });

  it("turns the deadline off only for Infinity and refuses other non-positive values", async () => {
    expect(() =>
      createS3CompatibleObjectStorage({
        endpoint: server.endpoint,
        forcePathStyle: true,
        credentials: LOCAL_CREDENTIALS,
        bucket,
        timeoutMs: 0,
      }),
    ).toThrow(/timeoutMs/);
    const { store } = await storeBehind(() => "hang", {
      timeoutMs: Number.POSITIVE_INFINITY,
      idleTimeoutMs: 300,
      maxAttempts: 1,
    });
    await expectErrorCode(store.head("anything", { timeoutMs: -1 }), "INVALID_ARGUMENT");
    const error = await expectFailsWithin(store.head("anything"), 5_000, "TIMEOUT");
    expect(error.details.timeoutMs).toBeUndefined();
  });
});

describe("lost replies", () => {
  const isCreate = (request: ProxiedRequest) =>
    request.method === "POST" && /[?&]uploads(=|&|$)/.test(request.url);
  const isComplete = (request: ProxiedRequest) =>
    request.method === "POST" && request.url.includes("uploadId=");
  const options = { partSize: 5 * MIB, idleTimeoutMs: 1_000, timeoutMs: 5_000 };

  it("finishes a put whose CompleteMultipartUpload reply was lost by asking the server, once", async () => {
    let lost = 0;
    const { store, proxy } = await storeBehind((request) => {
      if (isComplete(request) && lost === 0) {
        lost += 1;
        return "lose-reply";
      }
      return "forward";
    }, options);
    await store.put("completed", Readable.from(generated(12)));
    expect((await store.head("completed")).size).toBe(12 * MIB);
    expect(proxy.requests.filter(isComplete)).toHaveLength(1);
    expect(await openUploads()).toEqual([]);
  });

  it("does not complete an upload after the put was cancelled while its completion went unanswered", async () => {
    const cancel = new AbortController();
    const { store, proxy } = await storeBehind((request) => {
      if (!isComplete(request)) return "forward";
      if (cancel.signal.aborted) return "forward";
      cancel.abort();
      return "hang";
    }, options);
    await expectErrorCode(
      store.put("cancelled", Readable.from(generated(12)), { signal: cancel.signal }),
      "CANCELLED",
    );
    expect(proxy.requests.filter(isComplete)).toHaveLength(1);
    expect(await store.exists("cancelled")).toBe(false);
    expect(await openUploads()).toEqual([]);
  });

  it("aborts the upload a lost CreateMultipartUpload reply created and never creates a second", async () => {
    const { store, proxy } = await storeBehind(
      (request) => (isCreate(request) ? "lose-reply" : "forward"),
      options,
    );
    const error = await expectFailsWithin(
      store.put("orphan", Readable.from(generated(12))),
      3 * options.timeoutMs + 5_000,
      ["TIMEOUT", "UNAVAILABLE"],
    );
    expect(error.retryable).toBe(true);
    expect(proxy.requests.filter(isCreate)).toHaveLength(1);
    expect(await openUploads()).toEqual([]);
    expect(await store.exists("orphan")).toBe(false);
  });

  it("reports a conditional put whose reply was lost as outcome unknown and does not send it again", async () => {
    const isConditional = (request: ProxiedRequest) =>
      request.method === "PUT" && request.headers["if-none-match"] === "*";
    const { store, proxy } = await storeBehind(
      (request) => (isConditional(request) ? "lose-reply" : "forward"),
      { ...options, conditionalPut: true },
    );
    const error = await expectFailsWithin(
      store.put("claimed", "mine", { ifNoneMatch: "*" }),
      options.timeoutMs + 5_000,
      ["TIMEOUT", "UNAVAILABLE"],
    );
    expect(isOutcomeUnknown(error)).toBe(true);
    expect(error.retryable).toBe(false);
    expect(proxy.requests.filter(isConditional)).toHaveLength(1);
    expect(Buffer.from((await store.getBytes("claimed")).bytes).toString()).toBe("mine");
  });
});
