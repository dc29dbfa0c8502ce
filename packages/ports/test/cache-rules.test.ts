import { describe, expect, it } from "vitest";
import {
  isInfrastructureError,
  MAX_CACHE_BATCH,
  MAX_CACHE_TAGS,
  validateCacheMembers,
  validateCacheTags,
} from "../src/index.js";

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return isInfrastructureError(error) ? error.code : `foreign: ${String(error)}`;
  }
  return undefined;
}

describe("validateCacheTags", () => {
  it("returns undefined for no tags and for an empty array", () => {
    expect(validateCacheTags(undefined)).toBeUndefined();
    expect(validateCacheTags([])).toBeUndefined();
    expect(validateCacheTags([], false), "an empty array is allowed without the capability").toBeUndefined();
  });

  it("returns the distinct tags in first-seen order", () => {
    expect(validateCacheTags(["b", "a", "b"])).toEqual(["b", "a"]);
  });

  it.each([
    ["a string instead of an array", "t"],
    ["an empty tag", [""]],
    ["a number", [1]],
    ["a lone surrogate", ["t\ud800"]],
    ["too many tags", Array.from({ length: MAX_CACHE_TAGS + 1 }, (_, i) => `t${i}`)],
  ])("refuses %s with INVALID_ARGUMENT", (_label, tags) => {
    expect(codeOf(() => validateCacheTags(tags))).toBe("INVALID_ARGUMENT");
  });

  it("accepts MAX_CACHE_TAGS distinct tags, and as many duplicates as given", () => {
    const max = Array.from({ length: MAX_CACHE_TAGS }, (_, i) => `t${i}`);
    expect(validateCacheTags([...max, ...max])).toHaveLength(MAX_CACHE_TAGS);
  });

  it("refuses valid non-empty tags with NOT_SUPPORTED when the adapter has no tags, after checking them", () => {
    expect(codeOf(() => validateCacheTags(["t"], false))).toBe("NOT_SUPPORTED");
    expect(codeOf(() => validateCacheTags([""], false))).toBe("INVALID_ARGUMENT");
  });
});

describe("validateCacheMembers", () => {
  it("returns the distinct members in first-seen order, as a new array", () => {
    const members = ["b", "a", "b"];
    expect(validateCacheMembers(members)).toEqual(["b", "a"]);
    const one = ["x"];
    expect(validateCacheMembers(one)).not.toBe(one);
    expect(validateCacheMembers([])).toEqual([]);
  });

  it("accepts MAX_CACHE_BATCH members", () => {
    const max = Array.from({ length: MAX_CACHE_BATCH }, (_, i) => `m${i}`);
    expect(validateCacheMembers(max)).toHaveLength(MAX_CACHE_BATCH);
  });

  it.each([
    ["a string instead of an array", "m"],
    ["null", null],
    ["an empty member", ["ok", ""]],
    ["a number", [1]],
    ["a lone surrogate", ["m\udc00"]],
    ["more than MAX_CACHE_BATCH members", Array.from({ length: MAX_CACHE_BATCH + 1 }, (_, i) => `m${i}`)],
  ])("refuses %s with INVALID_ARGUMENT, naming the member", (_label, members) => {
    expect(codeOf(() => validateCacheMembers(members))).toBe("INVALID_ARGUMENT");
  });

  it("names the offending member's index", () => {
    expect(() => validateCacheMembers(["a", "b", ""])).toThrow(/member 2/);
  });
});
