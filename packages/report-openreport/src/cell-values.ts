import { InfrastructureError } from "@proj/ports";
import type { PlannedColumn } from "./report-plan.js";

/**
 * Where a value sits, for error messages. Kept as a mutable object the engines update, so building
 * a message costs nothing until a value is actually refused.
 */
export interface CellPosition {
  sheet: string;
  /** 1-based data row within the sheet as defined (before any rollover). */
  row: number;
}

export function valueError(position: CellPosition, column: PlannedColumn, value: unknown, why: string) {
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value;
  return new InfrastructureError(
    "INVALID_ARGUMENT",
    `sheet "${position.sheet}" row ${position.row} column "${column.key}" (${column.type}): ${shown} ${why}`,
    { retryable: false, details: { sheet: position.sheet, row: position.row, column: column.key } },
  );
}

// XML 1.0 allows tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD and paired surrogates; a lone surrogate
// cannot even be encoded in UTF-8. CSV gets the same cleaning so both formats hold the same text.
const INVALID_XML_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A cheap first look without lookarounds: most text holds none of these, and any surrogate (paired or
 * not) sends it to the exact pattern.
 */
const MAYBE_INVALID_XML_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

/** Drops the characters XML 1.0 cannot hold. */
export function cleanText(text: string): string {
  if (!MAYBE_INVALID_XML_CHARS.test(text)) return text;
  INVALID_XML_CHARS.lastIndex = 0;
  return INVALID_XML_CHARS.test(text) ? text.replace(INVALID_XML_CHARS, "") : text;
}

/** A string column accepts text and the primitives that read naturally as text. */
export function toText(value: unknown, column: PlannedColumn, position: CellPosition): string {
  switch (typeof value) {
    case "string":
      return cleanText(value);
    case "number":
    case "bigint":
    case "boolean":
      return String(value);
    default:
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
      throw valueError(position, column, value, "is not text");
  }
}

// Decimal strings are accepted because SQL drivers return NUMERIC/DECIMAL columns as strings.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Number, integer, currency and percent columns. */
export function toNumber(value: unknown, column: PlannedColumn, position: CellPosition): number {
  let number: number;
  if (typeof value === "number") number = value;
  else if (typeof value === "bigint") {
    number = Number(value);
    if (!Number.isSafeInteger(number))
      throw valueError(position, column, value, "is too large to hold exactly");
  } else if (typeof value === "string" && DECIMAL.test(value)) number = Number(value);
  else throw valueError(position, column, value, "is not a number");
  if (!Number.isFinite(number)) throw valueError(position, column, value, "is not a finite number");
  if (column.type === "integer" && !Number.isSafeInteger(number)) {
    throw valueError(position, column, value, "is not a safe integer");
  }
  return number;
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/**
 * An ISO 8601 date or date-time as milliseconds since the epoch, or `undefined` when a field is out
 * of range. `Date.parse` would move 2023-02-31 to 2023-03-03; a report must refuse it instead.
 * Fractions finer than a millisecond are cut, as `Date.parse` does.
 */
function parseIsoDate(match: RegExpExecArray): number | undefined {
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (sign !== undefined && zulu === undefined) {
    const hours = Number(oh);
    const minutes = Number(om);
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (sign === "-" ? -1 : 1) * (hours * 60 + minutes);
  }
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, "0"));
  // Not Date.UTC, which reads the years 0–99 as 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, millis);
  return date.getTime();
}

/**
 * Date columns take a `Date` or an ISO 8601 string, as milliseconds since the epoch. A string
 * without an offset is read as UTC: a spreadsheet date has no time zone, so the wall-clock time
 * written is the one given, whatever the server's zone. A date that does not exist (2023-02-31,
 * 1900-02-29, 24:00) is refused, never moved to another day.
 */
export function toEpochMillis(value: unknown, column: PlannedColumn, position: CellPosition): number {
  let millis: number | undefined;
  if (value instanceof Date) millis = value.getTime();
  else if (typeof value === "string") {
    const match = ISO_DATE.exec(value);
    if (match === null) throw valueError(position, column, value, "is not an ISO 8601 date");
    millis = parseIsoDate(match);
  } else throw valueError(position, column, value, "is not a Date or ISO 8601 string");
  if (millis === undefined || Number.isNaN(millis))
    throw valueError(position, column, value, "is not a valid date");
  return millis;
}

export function toBoolean(value: unknown, column: PlannedColumn, position: CellPosition): boolean {
  if (typeof value === "boolean") return value;
  throw valueError(position, column, value, "is not a boolean");
}
