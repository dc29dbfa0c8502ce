import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { expectBytes, type ObjectStorageHarness, patternBytes, type StorageGetter } from "./fixtures.js";

export function signedUrlTests(storage: StorageGetter, harness: ObjectStorageHarness): void {
  const supported = harness.capabilities.signedUrls;

  describe("signed URLs", () => {
    it.skipIf(!supported)(
      "returns an absolute GET URL that a plain fetch downloads the bytes from",
      async () => {
        const bytes = patternBytes(20_000, 41);
        await storage().put("shared/file.bin", bytes);
        const url = await storage().signedUrl("shared/file.bin", { method: "GET", expiresInSeconds: 300 });
        expect(new URL(url).protocol).toMatch(/^https?:$/);
        const response = await fetch(url);
        expect(response.status).toBe(200);
        expectBytes(new Uint8Array(await response.arrayBuffer()), bytes);
      },
    );

    it.skipIf(!supported)("returns a PUT URL that a plain fetch uploads through", async () => {
      const bytes = patternBytes(12_345, 42);
      const url = await storage().signedUrl("uploads/new.bin", {
        method: "PUT",
        expiresInSeconds: 300,
        contentType: "application/x-test",
      });
      const response = await fetch(url, {
        method: "PUT",
        body: bytes,
        headers: { "content-type": "application/x-test" },
      });
      expect(response.ok).toBe(true);
      const stored = await storage().getBytes("uploads/new.bin");
      expectBytes(stored.bytes, bytes);
      expect(stored.info.contentType).toBe("application/x-test");
    });

    it.skipIf(!supported)("refuses a GET URL once it has expired", { timeout: 20_000 }, async () => {
      await storage().put("short-lived", "x");
      const url = await storage().signedUrl("short-lived", { method: "GET", expiresInSeconds: 1 });
      await sleep(2500);
      const response = await fetch(url);
      expect(response.status).toBeGreaterThanOrEqual(400);
      await response.arrayBuffer();
    });

    it.skipIf(!supported)("rejects an invalid key with INVALID_ARGUMENT", async () => {
      await expectErrorCode(
        storage().signedUrl("", { method: "GET", expiresInSeconds: 60 }),
        "INVALID_ARGUMENT",
      );
    });

    it.skipIf(supported)("rejects signedUrl with NOT_SUPPORTED where signedUrls is false", async () => {
      await storage().put("shared", "x");
      await expectErrorCode(
        storage().signedUrl("shared", { method: "GET", expiresInSeconds: 60 }),
        "NOT_SUPPORTED",
      );
      await expectErrorCode(
        storage().signedUrl("shared", { method: "PUT", expiresInSeconds: 60 }),
        "NOT_SUPPORTED",
      );
    });
  });
}
