/**
 * Sheet XML written as bytes into one reused buffer, without a string per cell.
 *
 * Building each row as concatenated JS strings made millions of short-lived strings (cell markup,
 * numbers as text) per report, and V8 grew its young generation to its maximum to hold them: tens of
 * megabytes of peak RSS. Here markup is copied from precomputed bytes, integers and most decimals are
 * written digit by digit, and plain ASCII text is copied character by character; only what needs
 * escaping or is not ASCII goes through a string.
 */
export class XmlBytes {
  private bytes: Buffer;
  /** Bytes written since the last {@link take}. */
  length = 0;
  private readonly keptDigits = Buffer.alloc(17);
  private keptLength = 0;

  constructor(capacity: number) {
    this.bytes = Buffer.allocUnsafe(capacity);
  }

  /**
   * The bytes written so far, then starts over in the same buffer: the view is valid only until the
   * next write (the zip writer copies a chunk before it pulls the next).
   */
  take(): Buffer {
    const view = this.bytes.subarray(0, this.length);
    this.length = 0;
    return view;
  }

  /** Room for `n` more bytes; grows only for a row larger than the buffer (long text cells). */
  private reserve(n: number): Buffer {
    const needed = this.length + n;
    if (needed > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    return this.bytes;
  }

  /** Precomputed ASCII markup. */
  raw(markup: Uint8Array): void {
    const n = markup.length;
    const bytes = this.reserve(n);
    let at = this.length;
    for (let i = 0; i < n; i += 1) bytes[at++] = markup[i]!;
    this.length = at;
  }

  /** A string through the UTF-8 encoder: for text that is not plain ASCII, and rare markup. */
  utf8(text: string): void {
    const bytes = this.reserve(text.length * 3);
    this.length += bytes.write(text, this.length, "utf8");
  }

  /**
   * `text` as-is if every character is ASCII other than `&`, `<`, `>`, CR and `_` (which escaping
   * would change); returns false, having written nothing, otherwise.
   */
  plainAscii(text: string): boolean {
    const n = text.length;
    const bytes = this.reserve(n);
    const start = this.length;
    for (let i = 0; i < n; i += 1) {
      const c = text.charCodeAt(i);
      if (c >= 0x80 || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x0d || c === 0x5f) return false;
      bytes[start + i] = c;
    }
    this.length = start + n;
    return true;
  }

  /**
   * Keeps the digits of the safe integer `value` for {@link kept}: the row number, written in every
   * cell's reference, is worked out once per row.
   */
  keep(value: number): void {
    const start = this.length;
    this.integer(value);
    this.keptLength = this.length - start;
    this.bytes.copy(this.keptDigits, 0, start, this.length);
    this.length = start;
  }

  /** The digits of the last {@link keep}. */
  kept(): void {
    const n = this.keptLength;
    const bytes = this.reserve(n);
    const digits = this.keptDigits;
    let at = this.length;
    for (let i = 0; i < n; i += 1) bytes[at++] = digits[i]!;
    this.length = at;
  }

  /** A finite number exactly as `String(value)` writes it. */
  number(value: number): void {
    if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
      this.integer(value);
      return;
    }
    if (!this.decimal(value)) this.utf8(String(value));
  }

  private integer(value: number): void {
    const bytes = this.reserve(17);
    let at = this.length;
    // -0 is written "0", as String(-0) does.
    let rest = value;
    if (rest < 0) {
      bytes[at++] = 0x2d;
      rest = -rest;
    }
    let digits = 1;
    for (let p = 10; p <= rest; p *= 10) digits += 1;
    at += digits;
    this.length = at;
    do {
      const digit = rest % 10;
      bytes[--at] = 0x30 + digit;
      rest = (rest - digit) / 10;
    } while (rest > 0);
  }

  /**
   * A number with at most {@link MAX_DECIMALS} decimals, written without a string when its shortest
   * round-trip form is found exactly: `m / 10^k === value` makes `m` with `k` decimals a form that
   * reads back as `value`, and while `|value| * 10^k < 2^52` the decimals `10^-k` apart are further
   * apart than the doubles around `value`, so that form is the only one with `k` decimals that reads
   * back: the one `String` writes, once trailing zeros are cut. Returns false for anything else.
   */
  private decimal(value: number): boolean {
    const magnitude = Math.abs(value);
    for (let k = 1; k <= MAX_DECIMALS; k += 1) {
      const scale = POWERS_OF_TEN[k]!;
      if (magnitude * scale >= TWO_POW_52) return false;
      const m = Math.round(magnitude * scale);
      if (m / scale !== magnitude) continue;
      this.scaled(value < 0, m, k);
      return true;
    }
    return false;
  }

  /** `m / 10^k`, with a sign, its trailing zeros cut. */
  private scaled(negative: boolean, m: number, k: number): void {
    let rest = m;
    let decimals = k;
    while (decimals > 0 && rest % 10 === 0) {
      rest /= 10;
      decimals -= 1;
    }
    let whole = rest;
    for (let i = 0; i < decimals; i += 1) whole = (whole - (whole % 10)) / 10;
    let wholeDigits = 1;
    for (let p = 10; p <= whole; p *= 10) wholeDigits += 1;
    const width = (negative ? 1 : 0) + wholeDigits + (decimals > 0 ? decimals + 1 : 0);
    const bytes = this.reserve(width);
    let at = this.length + width;
    this.length = at;
    for (let i = 0; i < decimals; i += 1) {
      const digit = rest % 10;
      bytes[--at] = 0x30 + digit;
      rest = (rest - digit) / 10;
    }
    if (decimals > 0) bytes[--at] = 0x2e;
    do {
      const digit = rest % 10;
      bytes[--at] = 0x30 + digit;
      rest = (rest - digit) / 10;
    } while (rest > 0);
    if (negative) bytes[--at] = 0x2d;
  }
}

const MAX_DECIMALS = 6;
const POWERS_OF_TEN = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
const TWO_POW_52 = 2 ** 52;

/** ASCII markup as bytes, once. */
export function markup(text: string): Uint8Array {
  return Buffer.from(text, "latin1");
}
