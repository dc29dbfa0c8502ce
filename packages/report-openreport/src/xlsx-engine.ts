import type { GenerateReportOptions, ReportRow } from "@proj/ports";
import {
  type CellPosition,
  cleanText,
  toBoolean,
  toEpochMillis,
  toNumber,
  toText,
  valueError,
} from "./cell-values.js";
import { CHUNK_CHARS, type RenderStats, type ReportEngine, RowCursor } from "./report-engine.js";
import {
  cellValue,
  isPlainRow,
  type PlannedColumn,
  type PlannedSheet,
  type ReportPlan,
} from "./report-plan.js";
import { markup, XmlBytes } from "./xml-bytes.js";
import { ZipStream } from "./zip-stream.js";

export interface XlsxEngineOptions {
  /** zlib level, 0–9. */
  compressionLevel: number;
  sharedStrings: boolean;
  /** Rows per sheet, title and header included, before the rest rolls over to a new sheet. */
  maxRowsPerSheet: number;
  /** ZIP64 records even for a small archive (tests). */
  forceZip64?: boolean;
}

/** Excel's limit on the length of a cell's text. */
const MAX_CELL_TEXT = 32_767;
const MS_PER_DAY = 86_400_000;
/** Serial of 1970-01-01 in Excel's 1900 date system. */
const EPOCH_SERIAL = 25_569;
/**
 * 1900-03-01 to 9999-12-31: Excel's 1900 system counts a 29 February 1900 that never was, so
 * serials before March 1900 would read back a day off; later than 9999 does not exist for Excel.
 */
const FIRST_MILLIS = Date.UTC(1900, 2, 1);
const END_MILLIS = Date.UTC(10_000, 0, 1);

const MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships";
const XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
/** With a title: title in row 1, a blank row, the header in row 3. */
export const TITLED_HEADER_ROW = 3;
const HEADER_STYLE = 1;
const TITLE_STYLE = 2;

const XML_SPECIAL = /[&<>\r]/;
// Excel decodes `_xHHHH_` in cell text as a character; escaping the underscore keeps such text literal.
const EXCEL_ESCAPE = /_(?=x[0-9A-Fa-f]{4}_)/g;

/** Text as XML character data: invalid characters dropped, markup and CR escaped. */
function xmlText(text: string): string {
  return escapeXml(cleanText(text));
}

/** Escapes text already cleaned of characters XML cannot hold. */
function escapeXml(text: string): string {
  let out = text;
  if (XML_SPECIAL.test(out)) {
    // CR as a reference, since XML parsers turn a literal CR (or CR LF) into LF.
    out = out.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;");
  }
  if (out.includes("_x")) out = out.replace(EXCEL_ESCAPE, "_x005F_");
  return out;
}

/**
 * A `<t>` element for text already cleaned of characters XML cannot hold. Readers may trim text at
 * either end unless told to preserve it, so the attribute is added only when there is whitespace to
 * keep; most cells go without its 21 bytes.
 */
function textElement(text: string): string {
  const escaped = escapeXml(text);
  return text.length > 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32)
    ? `<t xml:space="preserve">${escaped}</t>`
    : `<t>${escaped}</t>`;
}

/** What {@link textElement} writes, as bytes; plain ASCII text is copied without a string. */
function writeText(out: XmlBytes, text: string): void {
  out.raw(
    text.length > 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32)
      ? T_OPEN_PRESERVE
      : T_OPEN,
  );
  if (!out.plainAscii(text)) out.utf8(escapeXml(text));
}

function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, "&quot;");
}

function columnLetters(index: number): string {
  let letters = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) {
    letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  }
  return letters;
}

class Styles {
  private readonly formats = new Map<string, number>();

  /** The `cellXfs` index for a number format; 0 (General) without one. */
  indexFor(format: string | undefined): number {
    if (format === undefined) return 0;
    let index = this.formats.get(format);
    if (index === undefined) {
      index = 3 + this.formats.size;
      this.formats.set(format, index);
    }
    return index;
  }

  xml(): string {
    const codes = [...this.formats.keys()];
    const font = (extra: string) =>
      `<font>${extra}<sz val="11"/><name val="Calibri"/><family val="2"/></font>`;
    const xf = (numFmtId: number, fontId: number, apply: string) =>
      `<xf numFmtId="${numFmtId}" fontId="${fontId}" fillId="0" borderId="0" xfId="0"${apply}/>`;
    return (
      `${XML_DECL}<styleSheet xmlns="${MAIN_NS}">` +
      (codes.length > 0
        ? `<numFmts count="${codes.length}">${codes
            .map((code, i) => `<numFmt numFmtId="${164 + i}" formatCode="${xmlAttr(code)}"/>`)
            .join("")}</numFmts>`
        : "") +
      `<fonts count="3">${font("")}${font("<b/>")}${font("<b/>").replace('val="11"', 'val="14"')}</fonts>` +
      '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
      '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
      '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
      `<cellXfs count="${3 + codes.length}">${xf(0, 0, "")}${xf(0, 1, ' applyFont="1"')}${xf(0, 2, ' applyFont="1"')}${codes
        .map((_, i) => xf(164 + i, 0, ' applyNumberFormat="1"'))
        .join("")}</cellXfs>` +
      '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
      "</styleSheet>"
    );
  }
}

class SharedStrings {
  private readonly index = new Map<string, number>();
  count = 0;

  /** The index of cleaned `text` in the table, adding it on first sight. */
  indexOf(text: string): number {
    this.count += 1;
    let i = this.index.get(text);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(text, i);
    }
    return i;
  }

  *chunks(): Generator<Buffer> {
    let xml = `${XML_DECL}<sst xmlns="${MAIN_NS}" count="${this.count}" uniqueCount="${this.index.size}">`;
    for (const text of this.index.keys()) {
      xml += `<si>${textElement(text)}</si>`;
      if (xml.length >= CHUNK_CHARS) {
        yield Buffer.from(xml);
        xml = "";
      }
    }
    yield Buffer.from(`${xml}</sst>`);
  }
}

interface CompiledColumn {
  readonly planned: PlannedColumn;
  readonly key: string;
  readonly letters: string;
  /** `<c r="` + letters, completed with the row number. */
  readonly open: Uint8Array;
  /** What follows the row number, precomputed per column and cell type. */
  readonly valueOpen: Uint8Array;
  readonly textOpen: Uint8Array;
  readonly sharedOpen: Uint8Array;
  readonly booleanOpen: Uint8Array;
}

const ROW_OPEN = markup('<row r="');
const ROW_OPEN_END = markup('">');
const ROW_CLOSE = markup("</row>");
const VALUE_CLOSE = markup("</v></c>");
const TEXT_CLOSE = markup("</t></is></c>");
const T_OPEN = markup("<t>");
const T_OPEN_PRESERVE = markup('<t xml:space="preserve">');
const TRUE_VALUE = markup("1");
const FALSE_VALUE = markup("0");
/** The rows' buffer: a chunk is handed on past CHUNK_CHARS bytes, with room for the row that crosses it. */
const CHUNK_CAPACITY = 2 * CHUNK_CHARS;

/** Rows that continue from one sheet part into the next when a sheet rolls over. */
interface RowFeed {
  readonly cursor: RowCursor;
  pending: ReportRow | undefined;
}

interface WrittenSheet {
  name: string;
  headerRow: number;
  lastRow: number;
  lastColumn: string;
}

class XlsxRender {
  private readonly zip: ZipStream;
  private readonly styles = new Styles();
  private readonly strings: SharedStrings | undefined;
  private readonly written: WrittenSheet[] = [];
  private readonly takenNames: Set<string>;
  /** Rows' XML, one chunk at a time, in a buffer reused for the whole report. */
  private readonly out = new XmlBytes(CHUNK_CAPACITY);

  constructor(
    private readonly plan: ReportPlan,
    private readonly stats: RenderStats,
    private readonly options: XlsxEngineOptions,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.zip = new ZipStream({ level: options.compressionLevel, forceZip64: options.forceZip64 });
    this.strings = options.sharedStrings ? new SharedStrings() : undefined;
    this.takenNames = new Set(plan.sheets.map((sheet) => sheet.name.toLowerCase()));
  }

  async *render(): AsyncGenerator<Buffer> {
    const headerRow = this.plan.title === undefined ? 1 : TITLED_HEADER_ROW;
    for (const sheet of this.plan.sheets) {
      const columns = this.compile(sheet.columns);
      const feed: RowFeed = { cursor: new RowCursor(sheet.name, sheet.rows), pending: undefined };
      try {
        for (let part = 1; ; part += 1) {
          const name = part === 1 ? sheet.name : this.rolloverName(sheet.name, part);
          const target: WrittenSheet = {
            name,
            headerRow,
            lastRow: headerRow,
            lastColumn: columns[columns.length - 1]!.letters,
          };
          const path = `xl/worksheets/sheet${this.written.length + 1}.xml`;
          yield* this.zip.entry(path, this.sheetXml(sheet, columns, feed, target), this.signal);
          this.written.push(target);
          this.stats.sheetCount += 1;
          if (feed.pending === undefined) break;
        }
      } finally {
        await feed.cursor.close();
      }
    }
    yield* this.zip.entry("xl/styles.xml", [Buffer.from(this.styles.xml())]);
    if (this.strings) yield* this.zip.entry("xl/sharedStrings.xml", this.strings.chunks());
    yield* this.zip.entry("xl/workbook.xml", [Buffer.from(this.workbookXml())]);
    yield* this.zip.entry("xl/_rels/workbook.xml.rels", [Buffer.from(this.workbookRels())]);
    yield* this.zip.entry("_rels/.rels", [Buffer.from(rootRels())]);
    // Last, because rollover decides how many worksheet parts there are.
    yield* this.zip.entry("[Content_Types].xml", [Buffer.from(this.contentTypes())]);
    yield* this.zip.finish();
  }

  private compile(columns: readonly PlannedColumn[]): CompiledColumn[] {
    return columns.map((planned, index) => {
      const letters = columnLetters(index);
      const style = this.styles.indexFor(planned.numberFormat);
      const styleAttribute = style === 0 ? "" : ` s="${style}"`;
      return {
        planned,
        key: planned.key,
        letters,
        open: markup(`<c r="${letters}`),
        valueOpen: markup(`"${styleAttribute}><v>`),
        textOpen: markup(`"${styleAttribute} t="inlineStr"><is>`),
        sharedOpen: markup(`"${styleAttribute} t="s"><v>`),
        booleanOpen: markup(`"${styleAttribute} t="b"><v>`),
      };
    });
  }

  private rolloverName(base: string, part: number): string {
    for (let n = part; ; n += 1) {
      const suffix = ` (${n})`;
      const name = base.slice(0, 31 - suffix.length) + suffix;
      if (!this.takenNames.has(name.toLowerCase())) {
        this.takenNames.add(name.toLowerCase());
        return name;
      }
    }
  }

  private async *sheetXml(
    sheet: PlannedSheet,
    columns: readonly CompiledColumn[],
    feed: RowFeed,
    target: WrittenSheet,
  ): AsyncGenerator<string | Buffer> {
    const { headerRow } = target;
    const first = this.written.length === 0;
    const widths = columns
      .map(
        (column, i) =>
          `<col min="${i + 1}" max="${i + 1}" width="${column.planned.width ?? defaultWidth(column.planned)}" customWidth="1"/>`,
      )
      .join("");
    let xml =
      `${XML_DECL}<worksheet xmlns="${MAIN_NS}" xmlns:r="${REL_NS}">` +
      `<sheetViews><sheetView workbookViewId="0"${first ? ' tabSelected="1"' : ""}>` +
      `<pane ySplit="${headerRow}" topLeftCell="A${headerRow + 1}" activePane="bottomLeft" state="frozen"/>` +
      `<selection pane="bottomLeft" activeCell="A${headerRow + 1}" sqref="A${headerRow + 1}"/></sheetView></sheetViews>` +
      `<sheetFormatPr defaultRowHeight="15"/><cols>${widths}</cols><sheetData>`;
    if (this.plan.title !== undefined) {
      xml += `<row r="1"><c r="A1" s="${TITLE_STYLE}" t="inlineStr"><is>${textElement(cleanText(this.plan.title))}</is></c></row>`;
    }
    xml += `<row r="${headerRow}">`;
    for (const column of columns) {
      xml += `<c r="${column.letters}${headerRow}" s="${HEADER_STYLE}" t="inlineStr"><is>${textElement(cleanText(column.planned.header))}</is></c>`;
    }
    xml += "</row>";
    yield xml;
    const out = this.out;

    const position: CellPosition = { sheet: sheet.name, row: 0 };
    const limit = this.options.maxRowsPerSheet;
    const { cursor } = feed;
    let r = headerRow;
    const { signal } = this;
    for (;;) {
      // The report already failed or was cancelled: nobody reads what would follow.
      if (signal?.aborted) return;
      let row = feed.pending;
      feed.pending = undefined;
      if (row === undefined) {
        const next = cursor.next();
        row = next instanceof Promise ? await next : next;
        if (row === undefined) break;
      }
      if (r === limit) {
        feed.pending = row;
        break;
      }
      r += 1;
      position.row = cursor.pulled;
      this.rowXml(out, row, r, columns, position);
      this.stats.rowCount += 1;
      // The zip writer copies the chunk before it pulls the next, so the buffer is reused.
      if (out.length >= CHUNK_CHARS) yield out.take();
    }
    target.lastRow = r;
    out.utf8(
      `</sheetData><autoFilter ref="A${headerRow}:${target.lastColumn}${r}"/>` +
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>',
    );
    yield out.take();
  }

  private rowXml(
    out: XmlBytes,
    row: ReportRow,
    rowNumber: number,
    columns: readonly CompiledColumn[],
    position: CellPosition,
  ): void {
    out.keep(rowNumber);
    out.raw(ROW_OPEN);
    out.kept();
    out.raw(ROW_OPEN_END);
    const plain = isPlainRow(row);
    for (const column of columns) {
      const value = cellValue(row, column.planned, plain);
      if (value === null || value === undefined || value === "") continue;
      switch (column.planned.type) {
        case "string": {
          const text = toText(value, column.planned, position);
          if (text.length > MAX_CELL_TEXT) {
            throw valueError(position, column.planned, value, `is longer than ${MAX_CELL_TEXT} characters`);
          }
          out.raw(column.open);
          out.kept();
          if (this.strings) {
            out.raw(column.sharedOpen);
            out.number(this.strings.indexOf(text));
            out.raw(VALUE_CLOSE);
          } else {
            out.raw(column.textOpen);
            writeText(out, text);
            out.raw(TEXT_CLOSE);
          }
          break;
        }
        case "boolean": {
          const flag = toBoolean(value, column.planned, position);
          out.raw(column.open);
          out.kept();
          out.raw(column.booleanOpen);
          out.raw(flag ? TRUE_VALUE : FALSE_VALUE);
          out.raw(VALUE_CLOSE);
          break;
        }
        case "date": {
          const millis = toEpochMillis(value, column.planned, position);
          if (millis < FIRST_MILLIS || millis >= END_MILLIS) {
            throw valueError(
              position,
              column.planned,
              value,
              "is outside Excel's dates (1900-03-01 to 9999-12-31)",
            );
          }
          out.raw(column.open);
          out.kept();
          out.raw(column.valueOpen);
          out.number(millis / MS_PER_DAY + EPOCH_SERIAL);
          out.raw(VALUE_CLOSE);
          break;
        }
        default: {
          const number = toNumber(value, column.planned, position);
          out.raw(column.open);
          out.kept();
          out.raw(column.valueOpen);
          out.number(number);
          out.raw(VALUE_CLOSE);
        }
      }
    }
    out.raw(ROW_CLOSE);
  }

  private workbookXml(): string {
    const sheets = this.written
      .map((sheet, i) => `<sheet name="${xmlAttr(sheet.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`)
      .join("");
    // Excel keeps an autofilter's range in this hidden name; without it the filter is dropped on save.
    const names = this.written
      .map(
        (sheet, i) =>
          `<definedName name="_xlnm._FilterDatabase" localSheetId="${i}" hidden="1">${xmlText(
            `'${sheet.name.replace(/'/g, "''")}'!$A$${sheet.headerRow}:$${sheet.lastColumn}$${sheet.lastRow}`,
          )}</definedName>`,
      )
      .join("");
    return (
      `${XML_DECL}<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}">` +
      `<bookViews><workbookView activeTab="0"/></bookViews><sheets>${sheets}</sheets>` +
      `<definedNames>${names}</definedNames></workbook>`
    );
  }

  private workbookRels(): string {
    const n = this.written.length;
    const rel = (id: number, type: string, target: string) =>
      `<Relationship Id="rId${id}" Type="${REL_NS}/${type}" Target="${target}"/>`;
    return (
      `${XML_DECL}<Relationships xmlns="${PKG_REL_NS}">` +
      this.written.map((_, i) => rel(i + 1, "worksheet", `worksheets/sheet${i + 1}.xml`)).join("") +
      rel(n + 1, "styles", "styles.xml") +
      (this.strings ? rel(n + 2, "sharedStrings", "sharedStrings.xml") : "") +
      "</Relationships>"
    );
  }

  private contentTypes(): string {
    const type = "application/vnd.openxmlformats-officedocument.spreadsheetml";
    const override = (part: string, kind: string) =>
      `<Override PartName="${part}" ContentType="${type}.${kind}+xml"/>`;
    return (
      `${XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
      '<Default Extension="xml" ContentType="application/xml"/>' +
      override("/xl/workbook.xml", "sheet.main") +
      this.written.map((_, i) => override(`/xl/worksheets/sheet${i + 1}.xml`, "worksheet")).join("") +
      override("/xl/styles.xml", "styles") +
      (this.strings ? override("/xl/sharedStrings.xml", "sharedStrings") : "") +
      "</Types>"
    );
  }
}

function rootRels(): string {
  return (
    `${XML_DECL}<Relationships xmlns="${PKG_REL_NS}">` +
    `<Relationship Id="rId1" Type="${REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`
  );
}

/** Wide enough for the header, and for a date or a typical number, when the column sets no width. */
function defaultWidth(column: PlannedColumn): number {
  const minimum = column.type === "date" ? 12 : 10;
  return Math.min(255, Math.max(minimum, column.header.length + 2));
}

export function createXlsxEngine(options: XlsxEngineOptions): ReportEngine {
  return {
    format: "xlsx",
    maxSheets: Number.POSITIVE_INFINITY,
    render: (plan, stats, request: GenerateReportOptions) =>
      new XlsxRender(plan, stats, options, request.signal).render(),
  };
}
