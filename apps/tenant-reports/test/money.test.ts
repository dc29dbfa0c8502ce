import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lineTotal } from "../src/application/money.js";

/**
 * The reference: exact rational arithmetic over BigInt, written independently of the rule. A
 * decimal string is numerator / 10^digits whatever its scale; the product is reduced to cents by
 * rounding half away from zero (what PostgreSQL's and MySQL's ROUND do for DECIMAL).
 */
interface Rational {
  numerator: bigint;
  denominator: bigint;
}

function parseDecimal(text: string): Rational {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (match === null) throw new Error(`not a decimal: ${text}`);
  const digits = match[3] ?? "";
  const magnitude = BigInt(`${match[2]}${digits}`);
  return { numerator: match[1] === "-" ? -magnitude : magnitude, denominator: 10n ** BigInt(digits.length) };
}

function times(a: Rational, b: Rational): Rational {
  return { numerator: a.numerator * b.numerator, denominator: a.denominator * b.denominator };
}

function referenceTotal(quantity: number, unitPrice: string, discount: string): string {
  const d = parseDecimal(discount);
  const oneMinusDiscount = { numerator: d.denominator - d.numerator, denominator: d.denominator };
  const total = times(
    times({ numerator: BigInt(quantity), denominator: 1n }, parseDecimal(unitPrice)),
    oneMinusDiscount,
  );
  const inCents = total.numerator * 100n;
  const negative = inCents < 0n;
  const absolute = negative ? -inCents : inCents;
  let cents = absolute / total.denominator;
  if ((absolute % total.denominator) * 2n >= total.denominator) cents += 1n;
  const sign = negative && cents !== 0n ? "-" : "";
  return `${sign}${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;
}

/** A DECIMAL(precision, scale) value as the database drivers return it: fixed scale, no exponent. */
function decimalColumn(precision: number, scale: number, min?: bigint, max?: bigint): fc.Arbitrary<string> {
  const limit = 10n ** BigInt(precision) - 1n;
  return fc.bigInt({ min: min ?? -limit, max: max ?? limit }).map((units) => {
    const negative = units < 0n;
    const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
    return `${negative ? "-" : ""}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  });
}

/** The orders table: quantity INTEGER, unit_price DECIMAL(12, 2), discount DECIMAL(5, 4). */
const anyQuantity = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const anyUnitPrice = decimalColumn(12, 2);
const anyDiscount = decimalColumn(5, 4);

describe("the money rule: lineTotal = quantity × unit price × (1 − discount), to the cent", () => {
  it("matches exact rational arithmetic on ordinary orders (quantity ≥ 1, price ≥ 0, discount 0..1)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        decimalColumn(12, 2, 0n),
        decimalColumn(5, 4, 0n, 10_000n),
        (quantity, unitPrice, discount) => {
          expect(lineTotal({ quantity, unitPrice, discount })).toBe(
            referenceTotal(quantity, unitPrice, discount),
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("matches exact rational arithmetic over every value the columns can hold, negatives included", () => {
    fc.assert(
      fc.property(anyQuantity, anyUnitPrice, anyDiscount, (quantity, unitPrice, discount) => {
        expect(lineTotal({ quantity, unitPrice, discount })).toBe(
          referenceTotal(quantity, unitPrice, discount),
        );
      }),
      { numRuns: 2_000 },
    );
  });

  it("always writes a plain decimal with two places and never a negative zero", () => {
    fc.assert(
      fc.property(anyQuantity, anyUnitPrice, anyDiscount, (quantity, unitPrice, discount) => {
        const total = lineTotal({ quantity, unitPrice, discount });
        expect(total).toMatch(/^-?\d+\.\d{2}$/);
        expect(total.startsWith("-0.00")).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it("rounds half away from zero, on both sides of zero", () => {
    // 1 × 0.01 × (1 − 0.5) = 0.005 → 0.01; the mirror images round to −0.01.
    expect(lineTotal({ quantity: 1, unitPrice: "0.01", discount: "0.5000" })).toBe("0.01");
    expect(lineTotal({ quantity: -1, unitPrice: "0.01", discount: "0.5000" })).toBe("-0.01");
    expect(lineTotal({ quantity: 1, unitPrice: "-0.01", discount: "0.5000" })).toBe("-0.01");
    // 0.004 rounds to zero on either side, written without a sign.
    expect(lineTotal({ quantity: -1, unitPrice: "0.01", discount: "0.6000" })).toBe("0.00");
    expect(lineTotal({ quantity: 3, unitPrice: "19.90", discount: "0.1000" })).toBe("53.73");
  });
});
