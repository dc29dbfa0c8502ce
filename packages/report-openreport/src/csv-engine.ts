import type { GenerateReportOptions, ReportRow } from "@proj/ports";
import { type CellPosition, cleanText, toBoolean, toEpochMillis, toNumber, toText } from "./cell-values.js";
import { CHUNK_CHARS, type RenderStats, type ReportEngine, RowCursor } from "./report-engine.js";
import { cellValue, isPlainRow, type PlannedColumn, type ReportPlan } from "./report-plan.js";

/** Every separator a reader may split on, whichever one this file uses, and what RFC 4180 quotes. */
const NEEDS_QUOTES = /[",;\t\r\n]/;
/**
 * What a spreadsheet would read as the start of a formula (OWASP's CSV injection list), at the start
 * of the field or after any separator a reader may split on: opened with `;` or tab as the separator
 * (Excel's default in many locales), `a;=1+1` would otherwise be a text cell and a formula.
 */
const FORMULA_ANYWHERE = /^[=+\-@\t\r]|[,;\t\r\n][=+\-@\t\r]/;
const FORMULA_STARTS = /(^|[,;\t\r\n])(?=[=+\-@\t\r])/g;
const BOM = "\uFEFF";
const MIDNIGHT = "T00:00:00.000Z";
export const CSV_DELIMITERS: ReadonlySet<string> = new Set([",", ";", "\t"]);

/**
 * Every character any of the steps below acts on (what XML cannot hold, formula starts, separators,
 * quotes): text holding none of them is written as it is after a single scan instead of three.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const MAYBE_SPECIAL = /[\u0000-\u001F",;=+\-@\uD800-\uDFFF\uFFFE\uFFFF]/;

/** A text field: invalid characters dropped, formula starts neutralised, quoted per RFC 4180. */
function csvText(text: string): string {
  if (!MAYBE_SPECIAL.test(text)) return text;
  let field = cleanText(text);
  if (FORMULA_ANYWHERE.test(field)) field = field.replace(FORMULA_STARTS, "$1'");
  return NEEDS_QUOTES.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

const MS_PER_DAY = 86_400_000;
/** Days already formatted: reports repeat the same few thousand dates, and `toISOString` is costly. */
const dayCache = new Map<number, string>();
const DAY_CACHE_LIMIT = 8_192;

/** ISO 8601 in UTC; a date with no time of day is written as the date alone. */
function csvDate(millis: number): string {
  if (millis % MS_PER_DAY === 0) {
    let day = dayCache.get(millis);
    if (day === undefined) {
      if (dayCache.size === DAY_CACHE_LIMIT) dayCache.clear();
      day = isoDate(millis);
      dayCache.set(millis, day);
    }
    return day;
  }
  return isoDate(millis);
}

function isoDate(millis: number): string {
  const iso = new Date(millis).toISOString();
  // Past year 9999 the year has six digits and a sign (`+010000-01-01T…`), so cut from the end.
  return iso.endsWith(MIDNIGHT) ? iso.slice(0, -MIDNIGHT.length) : iso;
}

function csvField(value: unknown, column: PlannedColumn, position: CellPosition): string {
  if (value === null || value === undefined) return "";
  switch (column.type) {
    case "string":
      return csvText(toText(value, column, position));
    case "boolean":
      return toBoolean(value, column, position) ? "true" : "false";
    case "date":
      return value === "" ? "" : csvDate(toEpochMillis(value, column, position));
    default:
      return value === "" ? "" : String(toNumber(value, column, position));
  }
}

async function* renderCsv(
  plan: ReportPlan,
  stats: RenderStats,
  options: GenerateReportOptions,
): AsyncGenerator<Buffer> {
  const sheet = plan.sheets[0]!;
  const { columns } = sheet;
  const cursor = new RowCursor(sheet.name, sheet.rows);
  const position: CellPosition = { sheet: sheet.name, row: 0 };
  try {
    const delimiter = options.delimiter ?? ",";
    let csv =
      (options.bom === true ? BOM : "") +
      columns.map((column) => csvText(column.header)).join(delimiter) +
      "\r\n";
    const { signal } = options;
    for (;;) {
      // The report already failed or was cancelled: nobody reads what would follow.
      if (signal?.aborted) return;
      const next = cursor.next();
      const row: ReportRow | undefined = next instanceof Promise ? await next : next;
      if (row === undefined) break;
      position.row = cursor.pulled;
      const plain = isPlainRow(row);
      let line = csvField(cellValue(row, columns[0]!, plain), columns[0]!, position);
      for (let i = 1; i < columns.length; i += 1) {
        const column = columns[i]!;
        line += delimiter + csvField(cellValue(row, column, plain), column, position);
      }
      csv += `${line}\r\n`;
      stats.rowCount += 1;
      if (csv.length >= CHUNK_CHARS) {
        yield Buffer.from(csv);
        csv = "";
      }
    }
    if (csv.length > 0) yield Buffer.from(csv);
    stats.sheetCount = 1;
  } finally {
    await cursor.close();
  }
}

export function createCsvEngine(): ReportEngine {
  return { format: "csv", maxSheets: 1, render: renderCsv };
}
