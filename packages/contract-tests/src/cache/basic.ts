import type { Cache } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";

const VALUES: ReadonlyArray<readonly [string, unknown]> = [
  ["null", null],
  ["zero", 0],
  ["the empty string", ""],
  ["false", false],
  ["true", true],
  ["a float", 1.5],
  ["a negative integer", -42],
  ["a string", "tenant settings"],
  ["an array", [1, "a", null, false]],
  ["a nested object", { plan: "pro", limits: { seats: 10, features: ["sso", "audit"] }, trial: null }],
];

export function basicTests(cache: () => Cache): void {
  describe("keys and values", () => {
    it("returns undefined from get for a key never set", async () => {
      expect(await cache().get("absent")).toBeUndefined();
      expect(await cache().has("absent")).toBe(false);
    });

    it.each(VALUES)("stores %s and returns it as such from get", async (_label, value) => {
      await cache().set("k", value);
      expect(await cache().get("k")).toEqual(value);
      expect(await cache().has("k")).toBe(true);
    });

    it.each(VALUES)("returns a cached %s from getOrSet without calling the loader", async (_label, value) => {
      await cache().set("k", value);
      let calls = 0;
      const got = await cache().getOrSet("k", async () => {
        calls += 1;
        return "loaded";
      });
      expect(got).toEqual(value);
      expect(calls).toBe(0);
    });

    it("keeps keys apart that differ only in case, spacing or punctuation", async () => {
      const keys = ["Key", "key", "key ", "key:", "key*", "k[e]y?", "ключ", "🔑", "a\\b", "a/b"];
      for (const [index, key] of keys.entries()) await cache().set(key, index);
      for (const [index, key] of keys.entries()) expect(await cache().get(key), key).toBe(index);
    });

    it("replaces the value of an existing key on set", async () => {
      await cache().set("k", "first");
      await cache().set("k", "second");
      expect(await cache().get("k")).toBe("second");
    });

    it("rejects an empty key with INVALID_ARGUMENT on every keyed method", async () => {
      let calls = 0;
      const loader = async () => {
        calls += 1;
        return 1;
      };
      await expectErrorCode(cache().get(""), "INVALID_ARGUMENT");
      await expectErrorCode(cache().set("", 1), "INVALID_ARGUMENT");
      await expectErrorCode(cache().has(""), "INVALID_ARGUMENT");
      await expectErrorCode(cache().delete(""), "INVALID_ARGUMENT");
      await expectErrorCode(cache().getOrSet("", loader), "INVALID_ARGUMENT");
      expect(calls).toBe(0);
    });

    it("rejects a key that is not a string with INVALID_ARGUMENT", async () => {
      const notAString = 42 as unknown as string;
      await expectErrorCode(cache().get(notAString), "INVALID_ARGUMENT");
      await expectErrorCode(cache().set(notAString, 1), "INVALID_ARGUMENT");
    });

    it("rejects set with undefined with INVALID_ARGUMENT and stores nothing", async () => {
      await cache().set("k", "kept");
      await expectErrorCode(cache().set("k", undefined), "INVALID_ARGUMENT");
      expect(await cache().get("k")).toBe("kept");
      await expectErrorCode(cache().set("fresh", undefined), "INVALID_ARGUMENT");
      expect(await cache().has("fresh")).toBe(false);
    });
  });

  describe("delete", () => {
    it("returns true when it removed an entry and false when there was none", async () => {
      await cache().set("k", 1);
      expect(await cache().delete("k")).toBe(true);
      expect(await cache().get("k")).toBeUndefined();
      expect(await cache().has("k")).toBe(false);
      expect(await cache().delete("k")).toBe(false);
      expect(await cache().delete("never-set")).toBe(false);
    });

    it("removes only the given key", async () => {
      await cache().set("a", 1);
      await cache().set("ab", 2);
      await cache().delete("a");
      expect(await cache().get("ab")).toBe(2);
    });
  });
}
