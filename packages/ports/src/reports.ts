import type { Writable } from "node:stream";
import type { OperationOptions } from "./resources.js";

export type ReportColumnType = "string" | "number" | "integer" | "currency" | "percent" | "date" | "boolean";

export interface ReportColumn {
  /** Header text. */
  header: string;
  /** Property of each row object that holds this column's value. */
  key: string;
  type: ReportColumnType;
  /** Width in characters (XLSX). */
  width?: number;
  /**
   * Excel number format, e.g. `#,##0.00 "EUR"`. Default per type: integer `0`, number `0.00`,
   * currency `#,##0.00`, percent `0.00%`, date `yyyy-mm-dd`.
   */
  numberFormat?: string;
}

/**
 * A row: values by column key, read from the row's own properties only (a key found only on the
 * prototype, such as `constructor`, is an empty cell). `null`/`undefined` is an empty cell. A row that
 * is not such an object (an array, a `Map`, a `Set`, a primitive) is `INVALID_ARGUMENT`.
 */
export type ReportRow = Record<string, unknown>;

export interface ReportSheet {
  /**
   * 1 to 31 characters, none of `[]:*?/\`, not `History` (Excel reserves it), unique without regard
   * to case. Checked as a reader will show the name: characters XML cannot hold dropped, tab, CR, LF
   * and CR LF each shown as one space; `INVALID_ARGUMENT` otherwise.
   */
  name: string;
  columns: readonly ReportColumn[];
  /** Consumed once, with back-pressure: the next row is pulled only when the output can take it. */
  rows: AsyncIterable<ReportRow> | Iterable<ReportRow>;
}

export interface ReportDefinition {
  /** Written above the header row of each sheet in XLSX; ignored in CSV. */
  title?: string;
  sheets: readonly ReportSheet[];
}

export type ReportFormat = "xlsx" | "csv";

export interface GenerateReportOptions extends OperationOptions {
  format: ReportFormat;
  /** CSV only: start with a UTF-8 byte order mark (for Excel). Default false. */
  bom?: boolean;
  /**
   * CSV only: the field separator, `,` (default), `;` or tab (`"\t"`), as spreadsheets in many locales
   * expect. Anything else is `INVALID_ARGUMENT`. Whatever the separator, a field holding any of them
   * is quoted, so a reader set to another separator still sees one field.
   */
  delimiter?: "," | ";" | "\t";
}

export interface ReportResult {
  /** Data rows written, over all sheets (headers and titles not counted). */
  rowCount: number;
  /** Bytes written to the output. */
  byteSize: number;
  /** Sheets written; more than defined when a sheet rolled over its row limit. */
  sheetCount: number;
}

export interface ReportGeneratorCapabilities {
  formats: readonly ReportFormat[];
}

/**
 * Writes tabular reports.
 *
 * Contract:
 * - `generate` pulls rows from each sheet's iterable in order and writes the report to `output`,
 *   honouring its back-pressure, so memory stays bounded whatever the row count. It ends `output`
 *   when done and resolves with the counts; on failure (a row iterator that throws, an invalid
 *   definition, abort) it rejects and destroys `output`.
 * - Values are written by column type: numbers stay numbers, dates are dates (`Date` or ISO string),
 *   booleans are booleans; a value that does not fit its type is `INVALID_ARGUMENT`. Strings are
 *   always text: a string starting with `=`, `+`, `-`, `@`, tab or CR is never a formula (CSV:
 *   prefixed with `'`). Characters invalid in XML are dropped.
 * - CSV follows RFC 4180 (CRLF, fields with `,` `;` tab `"` CR LF quoted, quotes doubled), UTF-8; it
 *   holds one sheet, so more than one is `INVALID_ARGUMENT`. The formula guard applies after every
 *   separator a reader may split on: a `'` goes before `=` `+` `-` `@` tab or CR at the start of a text
 *   field and after each `,` `;` tab CR or LF inside it.
 * - Options the generator does not know are `INVALID_ARGUMENT`, never silently ignored.
 * - A format not in `capabilities.formats` is `NOT_SUPPORTED`. Duplicate or invalid sheet names and
 *   columns with duplicate keys are `INVALID_ARGUMENT`.
 */
export interface ReportGenerator {
  readonly capabilities: ReportGeneratorCapabilities;
  generate(
    definition: ReportDefinition,
    output: Writable,
    options: GenerateReportOptions,
  ): Promise<ReportResult>;
}
