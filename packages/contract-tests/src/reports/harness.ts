import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type {
  GenerateReportOptions,
  ReportColumn,
  ReportDefinition,
  ReportFormat,
  ReportGenerator,
  ReportResult,
  ReportRow,
} from "@proj/ports";
import { expect } from "vitest";

/** One cell as a reader saw it. */
export interface ReadBackCell {
  /** Dates as `Date`, numbers as numbers, booleans as booleans; an empty cell is `null`. */
  value: string | number | boolean | Date | null;
  /** The cell's number format code (`General` or absent when it has none). */
  numberFormat?: string;
  /** Set only when the cell holds a formula. */
  formula?: string;
}

export interface ReadBackSheet {
  name: string;
  /** Row 1 first; an empty row is `[]`, and trailing empty cells may be left out. */
  rows: ReadBackCell[][];
}

/**
 * What an adapter hands the `ReportGenerator` contract. The suite stays engine-neutral: it parses
 * CSV itself (RFC 4180, byte by byte), and asks the harness to read binary formats back.
 */
export interface ReportGeneratorHarness {
  /** The formats the generator under test offers; each format's tests are skipped visibly otherwise. */
  formats: readonly ReportFormat[];
  create(): ReportGenerator | Promise<ReportGenerator>;
  /** Reads a report of a binary format (XLSX) back into sheets, with a reader independent of the engine. */
  readBack(bytes: Buffer, format: ReportFormat): Promise<ReadBackSheet[]>;
  /**
   * A generator whose XLSX sheets hold at most `rows` rows, header included, before rolling over to a
   * new sheet. Absent when the adapter cannot lower its limit (the rollover tests are then skipped).
   */
  createWithSheetRowLimit?(rows: number): ReportGenerator | Promise<ReportGenerator>;
}

/** A `Writable` that keeps everything written, to check counts and content. */
export class CollectingWritable extends Writable {
  private readonly chunks: Buffer[] = [];
  bytesAccepted = 0;

  constructor(options: { highWaterMark?: number } = {}) {
    super({ highWaterMark: options.highWaterMark ?? 16 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.bytesAccepted += chunk.length;
    callback();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Runs `generate` into a fresh collecting output and returns the result with the bytes. */
export async function generateBytes(
  generator: ReportGenerator,
  definition: ReportDefinition,
  format: ReportFormat,
  options: Omit<GenerateReportOptions, "format"> = {},
): Promise<{ result: ReportResult; bytes: Buffer; output: CollectingWritable }> {
  const output = new CollectingWritable();
  const result = await generator.generate(definition, output, { format, ...options });
  return { result, bytes: output.bytes(), output };
}

/**
 * Strict RFC 4180: records end with CRLF, a field is either plain (no `"`, CR or LF) or quoted with
 * inner quotes doubled. Throws on anything else, so a sloppy writer fails the suite.
 */
export function parseCsv(text: string, delimiter = ","): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new Error(`unterminated quoted field at ${i}`);
        field += text.slice(i, quote);
        i = quote + 1;
        if (text[i] === '"') {
          field += '"';
          i += 1;
        } else break;
      }
    } else {
      let end = i;
      while (end < text.length && text[end] !== delimiter && text[end] !== "\r" && text[end] !== "\n") {
        if (text[end] === '"') throw new Error(`quote inside an unquoted field at ${end}`);
        end += 1;
      }
      field = text.slice(i, end);
      i = end;
    }
    record.push(field);
    if (text[i] === delimiter) {
      i += 1;
      continue;
    }
    if (i >= text.length) {
      records.push(record);
      return records;
    }
    if (text[i] !== "\r" || text[i + 1] !== "\n") throw new Error(`record not ended by CRLF at ${i}`);
    i += 2;
    records.push(record);
    record = [];
    if (i >= text.length) return records;
  }
}

/** Decodes CSV bytes as UTF-8 without a BOM (asserting there is none) and parses them. */
export function readCsv(bytes: Buffer, delimiter = ","): string[][] {
  expect(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])), "unexpected byte order mark").toBe(
    false,
  );
  return parseCsv(new TextDecoder("utf-8", { fatal: true }).decode(bytes), delimiter);
}

/** Reads a report back: CSV parsed here (one sheet of text cells), other formats by the harness. */
export async function readSheets(
  harness: ReportGeneratorHarness,
  format: ReportFormat,
  bytes: Buffer,
): Promise<ReadBackSheet[]> {
  if (format !== "csv") return harness.readBack(bytes, format);
  return [{ name: "csv", rows: readCsv(bytes).map((record) => record.map((value) => ({ value }))) }];
}

/** The parts of a read-back sheet around its header row (found by the column headers). */
export function splitSheet(sheet: ReadBackSheet, columns: readonly ReportColumn[]) {
  const headers = columns.map((column) => column.header);
  const headerIndex = sheet.rows.findIndex(
    (row) => row.length >= headers.length && headers.every((header, i) => row[i]?.value === header),
  );
  expect(
    headerIndex,
    `no header row ${JSON.stringify(headers)} in sheet "${sheet.name}"`,
  ).toBeGreaterThanOrEqual(0);
  const pad = (row: ReadBackCell[]) =>
    columns.map((_, i) => row[i] ?? ({ value: null } satisfies ReadBackCell));
  return {
    above: sheet.rows.slice(0, headerIndex),
    data: sheet.rows.slice(headerIndex + 1).map(pad),
  };
}

/** Data values of a read-back sheet, one array per row. */
export function dataValues(
  sheet: ReadBackSheet,
  columns: readonly ReportColumn[],
): ReadBackCell["value"][][] {
  return splitSheet(sheet, columns).data.map((row) => row.map((cell) => cell.value));
}

/** Yields `rows` and counts how many were pulled, to observe when a generator asks for more. */
export class CountingRows implements AsyncIterable<ReportRow> {
  pulled = 0;

  constructor(
    private readonly total: number,
    private readonly make: (index: number) => ReportRow,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<ReportRow> {
    for (let i = 0; i < this.total; i += 1) {
      this.pulled += 1;
      yield this.make(i);
    }
  }
}

/** A row that deflate cannot shrink below 100 bytes: 200 random hex digits. */
export function incompressibleRow(index: number): ReportRow {
  return { id: index, blob: randomBytes(100).toString("hex") };
}

export const INCOMPRESSIBLE_COLUMNS: readonly ReportColumn[] = [
  { header: "Id", key: "id", type: "integer" },
  { header: "Blob", key: "blob", type: "string" },
];

export const TYPED_COLUMNS: readonly ReportColumn[] = [
  { header: "Text", key: "text", type: "string" },
  { header: "Number", key: "number", type: "number" },
  { header: "Integer", key: "integer", type: "integer" },
  { header: "Currency", key: "currency", type: "currency" },
  { header: "Percent", key: "percent", type: "percent" },
  { header: "Date", key: "date", type: "date" },
  { header: "Flag", key: "flag", type: "boolean" },
];

export const FORMATS: readonly ReportFormat[] = ["xlsx", "csv"];
