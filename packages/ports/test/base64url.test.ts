import { describe, expect, it } from "vitest";
import { fromBase64Url, toBase64Url } from "../src/base64url.js";

describe("base64url", () => {
  it("writes - and _ where base64 has + and /, and drops the padding", () => {
    // "\u00fb\u00ff" is 0xC3 0xBB 0xC3 0xBF in UTF-8: base64 "w7vDvw==", with a + and a / in other inputs.
    expect(toBase64Url(">>>?")).toBe("Pj4-Pw");
    expect(toBase64Url("???")).toBe("Pz8_");
    expect(toBase64Url("a")).toBe("YQ");
    expect(toBase64Url("ab")).toBe("YWI");
  });

  it("reads back what it wrote, for text that needs every alphabet character", () => {
    for (const text of [">>>?", "???", "a", "ab", "abc", "ünïcode 🐘", ""]) {
      expect(fromBase64Url(toBase64Url(text))).toBe(text);
    }
    expect(fromBase64Url("Pj4-Pw")).toBe(">>>?");
    expect(fromBase64Url("Pz8_")).toBe("???");
  });

  it.each(["Pj4+Pw", "Pz8/", "YQ==", "Y Q", "!YQ", "YQ!"])(
    "refuses %j, which is not base64url",
    (encoded) => {
      expect(() => fromBase64Url(encoded)).toThrow(new TypeError("not base64url"));
    },
  );

  it("refuses base64url of bytes that are not UTF-8", () => {
    expect(() => fromBase64Url("_w")).toThrow(TypeError);
  });
});
