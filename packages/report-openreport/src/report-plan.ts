import {
  InfrastructureError,
  type ReportColumn,
  type ReportColumnType,
  type ReportDefinition,
  type ReportRow,
} from "@proj/ports";
import { cleanText } from "./cell-values.js";

/** A column after validation, with its number format resolved. */
export interface PlannedColumn {
  readonly header: string;
  readonly key: string;
  readonly type: ReportColumnType;
  readonly width: number | undefined;
  /** `undefined` for text and booleans, which keep Excel's General format. */
  readonly numberFormat: string | undefined;
  /** The key names something every plain object inherits (`constructor`, `toString`). */
  readonly keyIsInherited: boolean;
}

/**
 * The row's own value for a column: a key found only on the prototype (`constructor`, a class's
 * getter) is a missing value, not the prototype's function. `plain` says the row's prototype is
 * `Object.prototype` or `null`, so only the few keys every object inherits need the slower check.
 */
export function cellValue(row: ReportRow, column: PlannedColumn, plain: boolean): unknown {
  if (plain && !column.keyIsInherited) return row[column.key];
  return Object.hasOwn(row, column.key) ? row[column.key] : undefined;
}

/** True when `row` inherits nothing but `Object.prototype`, for `cellValue`. */
export function isPlainRow(row: ReportRow): boolean {
  const prototype: unknown = Object.getPrototypeOf(row);
  return prototype === Object.prototype || prototype === null;
}

export interface PlannedSheet {
  readonly name: string;
  readonly columns: readonly PlannedColumn[];
  readonly rows: AsyncIterable<ReportRow> | Iterable<ReportRow>;
}

/** A definition that passed validation: what an engine renders. */
export interface ReportPlan {
  readonly title: string | undefined;
  readonly sheets: readonly PlannedSheet[];
}

const COLUMN_TYPES: ReadonlySet<string> = new Set([
  "string",
  "number",
  "integer",
  "currency",
  "percent",
  "date",
  "boolean",
]);

const DEFAULT_FORMATS: Readonly<Record<ReportColumnType, string | undefined>> = {
  string: undefined,
  boolean: undefined,
  integer: "0",
  number: "0.00",
  currency: "#,##0.00",
  percent: "0.00%",
  date: "yyyy-mm-dd",
};

/** Excel's own limit; wider sheets do not open. */
const MAX_COLUMNS = 16_384;
const SHEET_NAME_FORBIDDEN = /[[\]:*?/\\]/;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

/**
 * The name a reader will show. Characters XML cannot hold are dropped, and an XML parser turns tab,
 * CR, LF and CR LF in an attribute into one space each; checking the raw name would let through names
 * that readers then find empty, too long or equal to another (exceljs refuses such files, openpyxl
 * and LibreOffice rename the sheets).
 */
export function normaliseSheetName(name: string): string {
  return cleanText(name).replace(/\r\n|[\t\r\n]/g, " ");
}

/** Checks a normalised sheet name against the port's rule and Excel's. */
function sheetNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 31) return "must be 1 to 31 characters (as a reader shows it)";
  if (SHEET_NAME_FORBIDDEN.test(name)) return "must not contain any of []:*?/\\";
  if (name.startsWith("'") || name.endsWith("'")) return "must not start or end with an apostrophe";
  // Excel keeps this name for its change-tracking sheet and refuses to open a workbook that uses it.
  if (name.toLowerCase() === "history") return "is reserved by Excel";
  return undefined;
}

function planColumn(column: ReportColumn, sheetName: string, index: number): PlannedColumn {
  const where = `column ${index + 1} of sheet "${sheetName}"`;
  if (typeof column?.key !== "string" || column.key.length === 0) throw invalid(`${where} needs a key`);
  if (typeof column.header !== "string") throw invalid(`${where} ("${column.key}") needs a string header`);
  if (!COLUMN_TYPES.has(column.type)) {
    throw invalid(`${where} ("${column.key}") has unknown type "${String(column.type)}"`);
  }
  if (
    column.width !== undefined &&
    !(Number.isFinite(column.width) && column.width > 0 && column.width <= 255)
  ) {
    throw invalid(`${where} ("${column.key}") width must be a number in (0, 255]`);
  }
  if (
    column.numberFormat !== undefined &&
    (typeof column.numberFormat !== "string" || !column.numberFormat)
  ) {
    throw invalid(`${where} ("${column.key}") numberFormat must be a non-empty string`);
  }
  return {
    header: column.header,
    key: column.key,
    type: column.type,
    width: column.width,
    numberFormat: column.numberFormat ?? DEFAULT_FORMATS[column.type],
    keyIsInherited: column.key in Object.prototype,
  };
}

/**
 * Validates a definition before a byte is written, so a bad definition never leaves half a report.
 * `maxSheets` is 1 for formats that hold a single sheet.
 */
export function planReport(definition: ReportDefinition, maxSheets: number, format: string): ReportPlan {
  if (definition === null || typeof definition !== "object" || !Array.isArray(definition.sheets)) {
    throw invalid("the report definition needs a sheets array");
  }
  if (definition.title !== undefined && typeof definition.title !== "string") {
    throw invalid("the report title must be a string");
  }
  if (definition.sheets.length === 0) throw invalid("the report needs at least one sheet");
  if (definition.sheets.length > maxSheets) {
    throw invalid(
      `${format} holds ${maxSheets} sheet${maxSheets === 1 ? "" : "s"}, the definition has ${definition.sheets.length}`,
    );
  }
  const seenNames = new Set<string>();
  const sheets = definition.sheets.map((sheet) => {
    if (typeof sheet?.name !== "string") throw invalid("every sheet needs a name");
    const name = normaliseSheetName(sheet.name);
    const problem = sheetNameProblem(name);
    if (problem !== undefined) throw invalid(`sheet name ${JSON.stringify(sheet.name)} ${problem}`);
    // Excel compares sheet names without regard to case.
    const folded = name.toLowerCase();
    if (seenNames.has(folded)) {
      throw invalid(
        `sheet name ${JSON.stringify(sheet.name)} is used twice (as a reader shows it: "${name}")`,
      );
    }
    seenNames.add(folded);
    if (!Array.isArray(sheet.columns) || sheet.columns.length === 0) {
      throw invalid(`sheet "${name}" needs at least one column`);
    }
    if (sheet.columns.length > MAX_COLUMNS) {
      throw invalid(`sheet "${name}" has ${sheet.columns.length} columns, more than ${MAX_COLUMNS}`);
    }
    const seenKeys = new Set<string>();
    const columns = sheet.columns.map((column: ReportColumn, index: number) => {
      const planned = planColumn(column, name, index);
      if (seenKeys.has(planned.key))
        throw invalid(`sheet "${name}" has two columns with key "${planned.key}"`);
      seenKeys.add(planned.key);
      return planned;
    });
    const rows = sheet.rows;
    if (
      rows === null ||
      typeof rows !== "object" ||
      !(Symbol.asyncIterator in rows || Symbol.iterator in rows)
    ) {
      throw invalid(`sheet "${name}" rows must be an iterable or async iterable`);
    }
    return { name, columns, rows };
  });
  return { title: definition.title, sheets };
}
