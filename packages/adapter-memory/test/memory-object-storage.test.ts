import { createHash } from "node:crypto";
import { type ErrorCode, isInfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createMemoryObjectStorage } from "../src/index.js";

async function expectCode(action: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await action.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isInfrastructureError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
}

describe("memory object storage", () => {
  it("rejects a body over maxObjectBytes with RESOURCE_EXHAUSTED and stores nothing", async () => {
    const storage = createMemoryObjectStorage({ maxObjectBytes: 10 });
    await storage.put("fits", "0123456789");
    async function* tooBig() {
      yield new Uint8Array(6);
      yield new Uint8Array(6);
    }
    await expectCode(storage.put("too-big", tooBig()), "RESOURCE_EXHAUSTED");
    expect(await storage.exists("too-big")).toBe(false);
  });

  it("stamps lastModified from the given clock", async () => {
    const at = new Date("2030-01-02T03:04:05.000Z");
    const storage = createMemoryObjectStorage({ now: () => at });
    expect((await storage.put("k", "v")).lastModified).toEqual(at);
    expect((await storage.head("k")).lastModified).toEqual(at);
  });

  it("uses the content hash as etag, so equal bodies have equal etags", async () => {
    const storage = createMemoryObjectStorage();
    const a = await storage.put("a", "same body");
    const b = await storage.put("b", "same body");
    expect(a.etag).toBe(b.etag);
    expect(a.etag).toBe(createHash("md5").update("same body").digest("hex"));
  });

  it("rejects a forged list cursor and an out-of-range page size with INVALID_ARGUMENT", async () => {
    const storage = createMemoryObjectStorage();
    await expectCode(storage.listPage({ after: "not base64url!" }), "INVALID_ARGUMENT");
    await expectCode(storage.listPage({ pageSize: 0 }), "INVALID_ARGUMENT");
    await expectCode(storage.listPage({ pageSize: 1001 }), "INVALID_ARGUMENT");
  });

  it("rejects a range that starts past the end with INVALID_ARGUMENT", async () => {
    const storage = createMemoryObjectStorage();
    await storage.put("short", "abc");
    await expectCode(storage.getBytes("short", { range: { start: 3 } }), "INVALID_ARGUMENT");
  });

  it("destroys a get stream with CANCELLED when the signal fires while reading", async () => {
    const storage = createMemoryObjectStorage();
    await storage.put("big", new Uint8Array(1024 * 1024));
    const controller = new AbortController();
    const { body } = await storage.get("big", { signal: controller.signal });
    controller.abort();
    const error = await (async () => {
      for await (const _ of body) {
        // Reading until the stream fails.
      }
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isInfrastructureError(error, "CANCELLED")).toBe(true);
  });

  it("rejects use after close with CLOSED", async () => {
    const storage = createMemoryObjectStorage();
    await storage.put("k", "v");
    await storage.close();
    await expectCode(storage.exists("k"), "CLOSED");
  });
});
