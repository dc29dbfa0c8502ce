import { describe, expect, it } from "vitest";
import { hasDuplicateMembers } from "../src/jwt-token-text.js";

describe("hasDuplicateMembers", () => {
  it.each([
    ['{"sub":"a","exp":1}', false],
    ['{"a":{"x":1},"b":{"x":2}}', false],
    ['[{"a":1},{"a":2}]', false],
    ['{"a":"\\"a\\":1,","b":"{\\"a\\":2}"}', false],
    ['{"list":["a","a"],"a":[{}, {"a":1}]}', false],
    ['{"a":{},"b":1,"c":[]}', false],
    ['{"a\\\\":1,"a":2}', false],
    ['{"sub":"a","sub":"b"}', true],
    ['{"sub":"a","\\u0073ub":"b"}', true],
    ['{"a":{"x":1,"y":2,"x":3}}', true],
    ['[{"a":1,"a":1}]', true],
    ['{"a":{"b":{}},"a":1}', true],
  ])("%s → %s", (json, duplicated) => {
    expect(() => JSON.parse(json)).not.toThrow();
    expect(hasDuplicateMembers(json)).toBe(duplicated);
  });
});
