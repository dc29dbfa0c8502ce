import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { expectBytes, patternBytes, type StorageGetter } from "./fixtures.js";

export function copyTests(storage: StorageGetter): void {
  describe("copy", () => {
    it("duplicates content, content type and metadata, and leaves the source alone", async () => {
      const bytes = patternBytes(50_000, 31);
      await storage().put("source.bin", bytes, { contentType: "image/png", metadata: { owner: "team-a" } });
      const info = await storage().copy("source.bin", "copies/target.bin");
      expect(info.key).toBe("copies/target.bin");
      expect(info.size).toBe(50_000);
      expect(info.contentType).toBe("image/png");
      expect(info.metadata).toEqual({ owner: "team-a" });
      const copied = await storage().getBytes("copies/target.bin");
      expectBytes(copied.bytes, bytes);
      expect(copied.info.contentType).toBe("image/png");
      expect(copied.info.metadata).toEqual({ owner: "team-a" });
      expectBytes((await storage().getBytes("source.bin")).bytes, bytes);
    });

    it("overwrites an existing destination", async () => {
      await storage().put("src", "new content", { contentType: "text/plain" });
      await storage().put("dst", "old content that is longer", { metadata: { stale: "yes" } });
      await storage().copy("src", "dst");
      const { bytes, info } = await storage().getBytes("dst");
      expect(Buffer.from(bytes).toString()).toBe("new content");
      expect(info.metadata).toEqual({});
      expect(info.contentType).toBe("text/plain");
    });

    it("keeps the copy when the source changes afterwards", async () => {
      await storage().put("src", "original");
      await storage().copy("src", "dst");
      await storage().put("src", "changed");
      await storage().delete("src");
      expect(Buffer.from((await storage().getBytes("dst")).bytes).toString()).toBe("original");
    });

    it("rejects a missing source with NOT_FOUND and creates nothing", async () => {
      await expectErrorCode(storage().copy("missing", "dst"), "NOT_FOUND");
      expect(await storage().exists("dst")).toBe(false);
    });
  });
}
