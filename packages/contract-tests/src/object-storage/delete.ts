import { describe, expect, it } from "vitest";
import { allKeys, inBatches, type StorageGetter } from "./fixtures.js";

export function deleteTests(storage: StorageGetter): void {
  describe("delete and deleteMany", () => {
    it("deletes an object", async () => {
      await storage().put("doomed", "x");
      await storage().put("kept", "y");
      await storage().delete("doomed");
      expect(await storage().exists("doomed")).toBe(false);
      expect(await storage().exists("kept")).toBe(true);
    });

    it("succeeds when deleting a missing key, twice", async () => {
      await storage().delete("never-there");
      await storage().put("once", "x");
      await storage().delete("once");
      await storage().delete("once");
      expect(await storage().exists("once")).toBe(false);
    });

    it("deletes many keys and ignores the missing ones", async () => {
      await storage().put("a", "1");
      await storage().put("b", "2");
      await storage().put("c", "3");
      await storage().deleteMany(["a", "missing-1", "c", "missing-2"]);
      expect(await allKeys(storage())).toEqual(["b"]);
    });

    it("accepts an empty list and any iterable", async () => {
      await storage().put("x", "1");
      await storage().deleteMany([]);
      await storage().deleteMany(new Set(["x"]));
      expect(await storage().exists("x")).toBe(false);
    });

    it("deletes more than 1000 keys in one call", { timeout: 180_000 }, async () => {
      const keys = Array.from({ length: 1100 }, (_, i) => `bulk/${String(i).padStart(4, "0")}`);
      await inBatches(keys, 16, (key) => storage().put(key, "x"));
      await storage().put("survivor", "stays");
      await storage().deleteMany([...keys, "bulk/missing"]);
      expect(await allKeys(storage())).toEqual(["survivor"]);
    });
  });
}
