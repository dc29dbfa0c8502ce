import { describe, expect, it } from "vitest";
import { XmlBytes } from "../src/xml-bytes.js";

function written(write: (out: XmlBytes) => void): string {
  const out = new XmlBytes(8);
  write(out);
  return out.take().toString("utf8");
}

/** A deterministic generator, so a failure names a value that can be replayed. */
function* samples(count: number): Generator<number> {
  let seed = 42;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  for (let i = 0; i < count; i += 1) {
    const r = next();
    const sign = next() < 0.5 ? -1 : 1;
    switch (i % 6) {
      case 0:
        // Money-like: a few decimals, the common case the fast path is for.
        yield (sign * Math.round(r * 1e9)) / 10 ** (i % 7);
        break;
      case 1:
        // Any double over many magnitudes.
        yield sign * r * 10 ** ((i % 40) - 20);
        break;
      case 2:
        yield sign * Math.round(r * Number.MAX_SAFE_INTEGER);
        break;
      case 3:
        // Sums that are not their decimal (0.1 + 0.2), and dates as Excel serials.
        yield (i % 10) / 10 + ((i * 7) % 10) / 10;
        break;
      case 4:
        yield Date.UTC(1900, 2, 1) / 86_400_000 + 25_569 + r * 3_000_000;
        break;
      default:
        yield sign * (Math.round(r * 1e6) / 1e6) * 10 ** ((i % 9) - 4);
    }
  }
}

describe("XmlBytes", () => {
  it("writes every number exactly as String() does", () => {
    const edges = [
      0,
      -0,
      1,
      -1,
      0.5,
      4.35,
      -4.35,
      1e-6,
      1e-7,
      0.000123,
      123.456789,
      1234567.1234567,
      99.99999999,
      1 / 3,
      2 ** 52 + 0.5,
      2 ** 53,
      -(2 ** 53),
      Number.MAX_SAFE_INTEGER,
      1e21,
      1.7976931348623157e308,
      5e-324,
    ];
    for (const value of [...edges, ...samples(60_000)]) {
      expect(written((out) => out.number(value))).toBe(String(value));
    }
  });

  it("copies plain ASCII text and refuses text that escaping or UTF-8 would change", () => {
    expect(written((out) => expect(out.plainAscii('user1@example.com, "quoted"\ttab')).toBe(true))).toBe(
      'user1@example.com, "quoted"\ttab',
    );
    for (const text of ["a&b", "a<b", "a>b", "a\rb", "a_x0041_b", "Grüße", "😀"]) {
      expect(written((out) => expect(out.plainAscii(text)).toBe(false))).toBe("");
    }
  });

  it("grows past its first capacity and starts over after take", () => {
    const out = new XmlBytes(4);
    const long = "x".repeat(100_000);
    out.utf8(long);
    out.number(12.5);
    expect(out.take().toString("latin1")).toBe(`${long}12.5`);
    out.number(7);
    expect(out.take().toString("latin1")).toBe("7");
  });
});
