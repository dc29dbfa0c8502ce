import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { collectBytes, expectErrorCode } from "../harness.js";
import {
  expectBytes,
  MiB,
  type ObjectStorageHarness,
  patternBytes,
  patternChunks,
  type StorageGetter,
  sha256,
} from "./fixtures.js";

export function putGetTests(storage: StorageGetter, harness: ObjectStorageHarness): void {
  describe("put and get", () => {
    it("stores bytes and returns the stored object's info", async () => {
      const bytes = patternBytes(1000, 1);
      const before = Date.now();
      const info = await storage().put("bytes.bin", bytes);
      expect(info.key).toBe("bytes.bin");
      expect(info.size).toBe(1000);
      expect(info.etag).toEqual(expect.any(String));
      expect(info.etag.length).toBeGreaterThan(0);
      expect(info.lastModified).toBeInstanceOf(Date);
      // Remote clocks drift, and some backends keep second precision.
      expect(Math.abs(info.lastModified.getTime() - before)).toBeLessThan(5 * 60_000);
      expectBytes((await storage().getBytes("bytes.bin")).bytes, bytes);
    });

    it("stores an empty body as an object of size 0", async () => {
      const info = await storage().put("empty", new Uint8Array(0));
      expect(info.size).toBe(0);
      const { bytes } = await storage().getBytes("empty");
      expect(bytes.byteLength).toBe(0);
      expect(await storage().exists("empty")).toBe(true);
    });

    it("stores a string as UTF-8", async () => {
      const text = "héllo wörld, 日本語 😀";
      const info = await storage().put("text.txt", text);
      expect(info.size).toBe(Buffer.byteLength(text));
      expectBytes((await storage().getBytes("text.txt")).bytes, Buffer.from(text, "utf8"));
    });

    it("stores a Node Readable", async () => {
      const parts = [patternBytes(10_000, 1), patternBytes(5, 2), patternBytes(70_000, 3)];
      await storage().put("node-readable", Readable.from(parts));
      expectBytes((await storage().getBytes("node-readable")).bytes, Buffer.concat(parts));
    });

    it("stores a Web ReadableStream", async () => {
      const parts = [patternBytes(3000, 4), patternBytes(100_000, 5)];
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of parts) controller.enqueue(part);
          controller.close();
        },
      });
      await storage().put("web-stream", stream);
      expectBytes((await storage().getBytes("web-stream")).bytes, Buffer.concat(parts));
    });

    it("stores an async iterable of chunks", async () => {
      const info = await storage().put("iterable", patternChunks(300_000, 7_000, 6));
      expect(info.size).toBe(300_000);
      expectBytes(
        (await storage().getBytes("iterable")).bytes,
        await collectBytes(patternChunks(300_000, 7_000, 6)),
      );
    });

    it("streams a multi-megabyte body of unknown length in and out intact", async () => {
      const total = harness.largeObjectBytes ?? 8 * MiB;
      const chunkSize = 64 * 1024 + 3;
      const expected = createHash("sha256");
      for await (const chunk of patternChunks(total, chunkSize, 9)) expected.update(chunk);
      const info = await storage().put("large.bin", patternChunks(total, chunkSize, 9));
      expect(info.size).toBe(total);

      const { info: got, body } = await storage().get("large.bin");
      expect(got.size).toBe(total);
      const actual = createHash("sha256");
      let received = 0;
      for await (const chunk of body) {
        actual.update(chunk as Uint8Array);
        received += (chunk as Uint8Array).byteLength;
      }
      expect(received).toBe(total);
      expect(actual.digest("hex")).toBe(expected.digest("hex"));
    });

    it("replaces an existing object and changes its etag", async () => {
      const first = await storage().put("replaced", "first version");
      const second = await storage().put("replaced", "second, longer version");
      expect(second.etag).not.toBe(first.etag);
      expect(second.size).toBe(Buffer.byteLength("second, longer version"));
      expect(Buffer.from((await storage().getBytes("replaced")).bytes).toString()).toBe(
        "second, longer version",
      );
    });

    it("keeps stored bytes independent of the caller's buffer", async () => {
      const bytes = patternBytes(64, 3);
      await storage().put("isolated", bytes);
      bytes.fill(0);
      const read = await storage().getBytes("isolated");
      expectBytes(read.bytes, patternBytes(64, 3));
      read.bytes.fill(1);
      expectBytes((await storage().getBytes("isolated")).bytes, patternBytes(64, 3));
    });
  });

  describe("content type, cache control and metadata", () => {
    it("defaults the content type to application/octet-stream", async () => {
      const info = await storage().put("untyped", "x");
      expect(info.contentType).toBe("application/octet-stream");
      expect((await storage().head("untyped")).contentType).toBe("application/octet-stream");
      expect(info.metadata).toEqual({});
    });

    it("round-trips content type, cache control and metadata through put, head, get and getBytes", async () => {
      const options = {
        contentType: "application/json; charset=utf-8",
        cacheControl: "public, max-age=3600",
        metadata: { "x-origin": "upload form", author: "Ada Lovelace", "rev-2": "a=b; c, d/e" },
      };
      const put = await storage().put("typed.json", '{"a":1}', options);
      const streamed = await storage().get("typed.json");
      expect((await collectBytes(streamed.body)).toString()).toBe('{"a":1}');
      for (const info of [
        put,
        await storage().head("typed.json"),
        (await storage().getBytes("typed.json")).info,
        streamed.info,
      ]) {
        expect(info.contentType).toBe(options.contentType);
        expect(info.cacheControl).toBe(options.cacheControl);
        expect(info.metadata).toEqual(options.metadata);
      }
    });

    it("does not carry metadata over from a replaced object", async () => {
      await storage().put("meta", "1", {
        metadata: { a: "1" },
        cacheControl: "no-cache",
        contentType: "text/plain",
      });
      const info = await storage().put("meta", "2");
      expect(info.metadata).toEqual({});
      expect(info.contentType).toBe("application/octet-stream");
      expect((await storage().head("meta")).metadata).toEqual({});
      expect((await storage().head("meta")).cacheControl).toBeUndefined();
    });

    for (const badKey of ["Upper", "under_score", "with space", "dot.ted", "ümlaut", ""]) {
      it(`rejects the metadata key ${JSON.stringify(badKey)} with INVALID_ARGUMENT and stores nothing`, async () => {
        await expectErrorCode(
          storage().put("bad-meta", "x", { metadata: { [badKey]: "v" } }),
          "INVALID_ARGUMENT",
        );
        expect(await storage().exists("bad-meta")).toBe(false);
      });
    }
  });

  describe("get, getBytes, head and exists", () => {
    it("streams the body through get as a Node Readable", async () => {
      const bytes = patternBytes(200_000, 11);
      await storage().put("streamed", bytes);
      const { info, body } = await storage().get("streamed");
      expect(info.size).toBe(200_000);
      expect(typeof body.pipe).toBe("function");
      expect(sha256(await collectBytes(body))).toBe(sha256(bytes));
    });

    it("returns the same info from head as from put", async () => {
      const put = await storage().put("headed", "abc", { contentType: "text/plain" });
      const head = await storage().head("headed");
      expect(head.key).toBe("headed");
      expect(head.size).toBe(3);
      expect(head.etag).toBe(put.etag);
      expect(head.contentType).toBe("text/plain");
      // put may report the client's clock, head the server's (often truncated to seconds).
      expect(Math.abs(head.lastModified.getTime() - put.lastModified.getTime())).toBeLessThan(5 * 60_000);
    });

    it("rejects get with NOT_FOUND for a missing key before any byte is delivered", async () => {
      await expectErrorCode(storage().get("missing"), "NOT_FOUND");
    });

    it("rejects getBytes and head with NOT_FOUND for a missing key", async () => {
      await expectErrorCode(storage().getBytes("missing"), "NOT_FOUND");
      await expectErrorCode(storage().head("missing"), "NOT_FOUND");
    });

    it("answers exists with true or false", async () => {
      expect(await storage().exists("maybe")).toBe(false);
      await storage().put("maybe", "x");
      expect(await storage().exists("maybe")).toBe(true);
    });

    it("does not treat a key prefix as an existing object", async () => {
      await storage().put("dir/file", "x");
      expect(await storage().exists("dir")).toBe(false);
      await expectErrorCode(storage().head("dir"), "NOT_FOUND");
    });
  });
}
