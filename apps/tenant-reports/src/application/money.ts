import type { Order } from "./orders.js";

/** A decimal string as an integer count of 1/10^scale units, exactly (no float on the way). */
function scaled(decimal: string, scale: number): bigint {
  const [whole = "0", fraction = ""] = decimal.split(".");
  const sign = whole.startsWith("-") ? -1n : 1n;
  return (
    sign *
    (BigInt(whole.replace("-", "")) * 10n ** BigInt(scale) +
      BigInt(fraction.padEnd(scale, "0").slice(0, scale) || "0"))
  );
}

/**
 * quantity × unit price × (1 − discount), rounded half away from zero to the cent (as SQL's ROUND
 * does for DECIMAL), computed in integers. Holds for every value the columns can carry, negatives
 * (refunds, corrections) included.
 */
export function lineTotal(order: Pick<Order, "quantity" | "unitPrice" | "discount">): string {
  // Units of 1/1,000,000: cents (scale 2) times ten-thousandths of the discount (scale 4).
  const millionths =
    BigInt(order.quantity) * scaled(order.unitPrice, 2) * (10_000n - scaled(order.discount, 4));
  const negative = millionths < 0n;
  const magnitude = negative ? -millionths : millionths;
  // BigInt division truncates toward zero: round the magnitude, then put the sign back.
  const cents = (magnitude + 5_000n) / 10_000n;
  const sign = negative && cents !== 0n ? "-" : "";
  return `${sign}${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
}
