import { expectErrorCode } from "@proj/contract-tests";
import { describe, expect, it } from "vitest";
import { decodeSegment, encodeSegment, prefixFolder, storedSegments } from "../src/object-keys.js";

describe("key mapping", () => {
  it("round-trips every segment through encode and decode, with no ~ on disk", () => {
    for (const segment of [
      "plain",
      "%",
      "~",
      "%7E",
      "%25",
      "a~m",
      "~t-x",
      "50% off~",
      "日本 😀",
      ".hidden",
    ]) {
      const stored = encodeSegment(segment);
      expect(stored).not.toContain("~");
      expect(decodeSegment(stored)).toBe(segment);
    }
  });

  it("maps a key to one stored name per segment", () => {
    expect(storedSegments("a/b~c/d%e")).toEqual(["a", "b%7Ec", "d%25e"]);
  });

  for (const [label, key] of [
    ["a .. segment", "a/../b"],
    ["a . segment", "a/./b"],
    ["a leading slash", "/a"],
    ["a trailing slash", "a/"],
    ["an empty segment", "a//b"],
    ["a backslash", "a\\b"],
    ["an encoded slash", "a%2Fb"],
    ["an encoded backslash", "a%5cb"],
    ["a segment over 200 stored bytes", `${"x".repeat(199)}~`],
  ] as const) {
    it(`refuses a key with ${label}`, async () => {
      await expectErrorCode(() => storedSegments(key), "INVALID_ARGUMENT");
    });
  }

  it("starts a listing in the folder named by the prefix up to its last slash", () => {
    expect(prefixFolder("")).toEqual([]);
    expect(prefixFolder("photo")).toEqual([]);
    expect(prefixFolder("photos/2024/ja")).toEqual(["photos", "2024"]);
    expect(prefixFolder("a~b/")).toEqual(["a%7Eb"]);
    expect(prefixFolder("../x")).toBeUndefined();
    expect(prefixFolder("a//")).toBeUndefined();
  });
});
