import { describe, expect, it } from "vitest";
import { collectBytes, expectErrorCode } from "../harness.js";
import { expectBytes, type ObjectStorageHarness, patternBytes, type StorageGetter } from "./fixtures.js";

export function rangeTests(storage: StorageGetter, harness: ObjectStorageHarness): void {
  const supported = harness.capabilities.rangeReads;

  describe("range reads", () => {
    const bytes = patternBytes(100_000, 21);

    it.skipIf(!supported)("returns the inclusive byte range through getBytes", async () => {
      await storage().put("ranged", bytes);
      const { bytes: part } = await storage().getBytes("ranged", { range: { start: 10, end: 19 } });
      expectBytes(part, bytes.subarray(10, 20));
    });

    it.skipIf(!supported)("streams the inclusive byte range through get", async () => {
      await storage().put("ranged", bytes);
      const { body } = await storage().get("ranged", { range: { start: 65_000, end: 70_000 } });
      expectBytes(await collectBytes(body), bytes.subarray(65_000, 70_001));
    });

    it.skipIf(!supported)("reads to the end when the range has no end", async () => {
      await storage().put("ranged", bytes);
      const { bytes: tail } = await storage().getBytes("ranged", { range: { start: 99_990 } });
      expectBytes(tail, bytes.subarray(99_990));
    });

    it.skipIf(!supported)("clamps an end past the object's end", async () => {
      await storage().put("ranged", bytes);
      const { bytes: tail } = await storage().getBytes("ranged", {
        range: { start: 99_000, end: 10_000_000 },
      });
      expectBytes(tail, bytes.subarray(99_000));
    });

    it.skipIf(!supported)("reads a single byte with start equal to end", async () => {
      await storage().put("ranged", bytes);
      const { bytes: one } = await storage().getBytes("ranged", { range: { start: 0, end: 0 } });
      expectBytes(one, bytes.subarray(0, 1));
    });

    it.skipIf(!supported)("rejects a range read of a missing key with NOT_FOUND", async () => {
      await expectErrorCode(storage().getBytes("missing", { range: { start: 0, end: 1 } }), "NOT_FOUND");
    });

    it.skipIf(supported)("rejects a range read with NOT_SUPPORTED where rangeReads is false", async () => {
      await storage().put("ranged", bytes);
      await expectErrorCode(storage().getBytes("ranged", { range: { start: 0, end: 1 } }), "NOT_SUPPORTED");
      await expectErrorCode(storage().get("ranged", { range: { start: 0, end: 1 } }), "NOT_SUPPORTED");
    });
  });

  describe("conditional put", () => {
    const conditional = harness.capabilities.conditionalPut;

    it.skipIf(!conditional)("creates a new object with ifNoneMatch", async () => {
      const info = await storage().put("once", "first", { ifNoneMatch: "*" });
      expect(info.size).toBe(5);
      expect(Buffer.from((await storage().getBytes("once")).bytes).toString()).toBe("first");
    });

    it.skipIf(!conditional)(
      "rejects ifNoneMatch on an existing key with CONFLICT and keeps the object",
      async () => {
        await storage().put("once", "first");
        await expectErrorCode(storage().put("once", "second", { ifNoneMatch: "*" }), "CONFLICT");
        expect(Buffer.from((await storage().getBytes("once")).bytes).toString()).toBe("first");
      },
    );

    it.skipIf(conditional)(
      "rejects ifNoneMatch with NOT_SUPPORTED where conditionalPut is false",
      async () => {
        await expectErrorCode(storage().put("once", "first", { ifNoneMatch: "*" }), "NOT_SUPPORTED");
      },
    );
  });
}
