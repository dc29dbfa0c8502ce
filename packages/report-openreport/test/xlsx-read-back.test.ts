import type { ReportColumn, ReportDefinition, ReportRow } from "@proj/ports";
import type ExcelJS from "exceljs";
import { describe, expect, it } from "vitest";
import * as XLSX from "xlsx";
import { createOpenReportGenerator } from "../src/index.js";
import { createOpenReportGeneratorWith } from "../src/openreport-report-generator.js";
import { collect } from "./collect.js";
import { loadExcelJs, loadSheetJs } from "./readers.js";

const COLUMNS: readonly ReportColumn[] = [
  { header: "Id", key: "id", type: "integer" },
  { header: "Name", key: "name", type: "string", width: 24 },
  { header: "Amount", key: "amount", type: "currency", numberFormat: '#,##0.00 "EUR"' },
  { header: "Share", key: "share", type: "percent" },
  { header: "Ratio", key: "ratio", type: "number" },
  { header: "Day", key: "day", type: "date" },
  { header: "At", key: "at", type: "date", numberFormat: "yyyy-mm-dd hh:mm:ss" },
  { header: "Paid", key: "paid", type: "boolean" },
];

const NAMES = [
  "plain",
  "=SUM(A1:A2)",
  "+cmd",
  "-2",
  "@x",
  "a & b < c > d",
  'quote "q"',
  "line\r\nbreak",
  "  padded  ",
  "ends with CR\r",
  "\ttab first",
  "Grüße 中 😀",
  null,
];

function row(i: number): ReportRow {
  return {
    id: i,
    name: NAMES[i % NAMES.length],
    amount: i % 4 === 0 ? `${i}.25` : i * 10.5,
    share: i / 100,
    ratio: i % 6 === 0 ? null : -i / 3,
    day:
      i % 2 === 1 ? new Date(Date.UTC(2024, 0, 1 + i)) : `2024-02-${String(1 + (i % 28)).padStart(2, "0")}`,
    at: new Date(Date.UTC(2024, 5, 1, i % 24, i % 60, (i * 7) % 60)),
    paid: i % 7 === 0 ? undefined : i % 2 === 0,
  };
}

type Kind = "number" | "string" | "date" | "boolean";
interface Expected {
  value: number | string | boolean | Date | null;
  kind: Kind | null;
  format: string | undefined;
}

const DEFAULT_FORMATS: Record<string, string | undefined> = {
  integer: "0",
  number: "0.00",
  currency: "#,##0.00",
  percent: "0.00%",
  date: "yyyy-mm-dd",
};

/** What a cell must read back as, derived from the input independently of the engine. */
function expected(column: ReportColumn, value: unknown): Expected {
  const format = column.numberFormat ?? DEFAULT_FORMATS[column.type];
  if (value === null || value === undefined) return { value: null, kind: null, format: undefined };
  switch (column.type) {
    case "string":
      return { value: String(value), kind: "string", format: undefined };
    case "boolean":
      return { value: value as boolean, kind: "boolean", format: undefined };
    case "date":
      return { value: new Date(value as string | Date), kind: "date", format };
    default:
      return { value: Number(value), kind: "number", format };
  }
}

const ROWS = Array.from({ length: 60 }, (_, i) => row(i + 1));
const SHEETS = ["Orders", "Order's copy"];
const DEFINITION = (): ReportDefinition => ({
  title: "Monthly orders",
  sheets: SHEETS.map((name) => ({ name, columns: COLUMNS, rows: ROWS })),
});

function excelJsKind(value: ExcelJS.CellValue): Kind | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return "date";
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean")
    return typeof value as Kind;
  throw new Error(`unexpected exceljs value ${JSON.stringify(value)}`);
}

const SHEETJS_KINDS: Record<string, Kind> = { n: "number", s: "string", d: "date", b: "boolean" };

describe("XLSX read back by exceljs and by SheetJS", () => {
  it("holds every value with its type and number format, cell by cell, in both readers", async () => {
    const bytes = await collect(createOpenReportGenerator(), DEFINITION(), { format: "xlsx" });
    const excel = await loadExcelJs(bytes);
    const sheetJs = loadSheetJs(bytes);
    expect(excel.worksheets.map((sheet) => sheet.name)).toEqual(SHEETS);
    expect(sheetJs.SheetNames).toEqual(SHEETS);
    let checked = 0;
    for (const name of SHEETS) {
      const excelSheet = excel.getWorksheet(name)!;
      const jsSheet = sheetJs.Sheets[name]!;
      ROWS.forEach((input, r) => {
        const rowNumber = r + 4;
        COLUMNS.forEach((column, c) => {
          const want = expected(column, input[column.key]);
          const where = `${name}!${XLSX.utils.encode_cell({ r: rowNumber - 1, c })} (${column.key})`;
          const cell = excelSheet.getRow(rowNumber).getCell(c + 1);
          expect(excelJsKind(cell.value), `exceljs type of ${where}`).toBe(want.kind);
          expect(cell.value ?? null, `exceljs value of ${where}`).toEqual(want.value);
          if (want.format !== undefined) expect(cell.numFmt, `exceljs format of ${where}`).toBe(want.format);
          const jsCell = jsSheet[XLSX.utils.encode_cell({ r: rowNumber - 1, c })] as
            | XLSX.CellObject
            | undefined;
          expect(jsCell === undefined ? null : SHEETJS_KINDS[jsCell.t], `SheetJS type of ${where}`).toBe(
            want.kind,
          );
          const jsValue = jsCell?.v ?? null;
          if (want.value instanceof Date && jsValue instanceof Date) {
            // SheetJS truncates serial x 86,400,000 instead of rounding, so it may land 1 ms early.
            expect(
              Math.abs(jsValue.getTime() - want.value.getTime()),
              `SheetJS date of ${where}`,
            ).toBeLessThanOrEqual(1);
          } else expect(jsValue, `SheetJS value of ${where}`).toEqual(want.value);
          expect(jsCell?.f, `SheetJS formula of ${where}`).toBeUndefined();
          if (want.format !== undefined) expect(jsCell?.z, `SheetJS format of ${where}`).toBe(want.format);
          checked += 1;
        });
      });
    }
    expect(checked).toBe(SHEETS.length * ROWS.length * COLUMNS.length);
  });

  it("writes the title, a bold header, frozen panes below it, an autofilter and column widths", async () => {
    const bytes = await collect(createOpenReportGenerator(), DEFINITION(), { format: "xlsx" });
    const excel = await loadExcelJs(bytes);
    const sheet = excel.getWorksheet("Orders")!;
    expect(sheet.getCell("A1").value).toBe("Monthly orders");
    expect(sheet.getCell("A1").font).toMatchObject({ bold: true, size: 14 });
    expect(sheet.getRow(3).values).toEqual([undefined, ...COLUMNS.map((column) => column.header)]);
    for (let c = 1; c <= COLUMNS.length; c += 1) expect(sheet.getRow(3).getCell(c).font?.bold).toBe(true);
    expect(sheet.getCell("A4").font?.bold).toBeFalsy();
    expect(sheet.views[0]).toMatchObject({ state: "frozen", ySplit: 3, topLeftCell: "A4" });
    expect(sheet.autoFilter).toBe(`A3:H${ROWS.length + 3}`);
    expect(sheet.getColumn(2).width).toBe(24);
    // Columns without a width get one wide enough for their header.
    expect(sheet.getColumn(1).width).toBeGreaterThanOrEqual(COLUMNS[0]!.header.length);

    const js = loadSheetJs(bytes).Sheets.Orders!;
    expect(js["!autofilter"]).toEqual({ ref: `A3:H${ROWS.length + 3}` });
    expect(js["!cols"]?.[1]?.width).toBe(24);
  });

  it("puts the header in row 1 and freezes below it when there is no title", async () => {
    const bytes = await collect(
      createOpenReportGenerator(),
      { sheets: [{ name: "Plain", columns: COLUMNS, rows: ROWS.slice(0, 3) }] },
      { format: "xlsx" },
    );
    const sheet = (await loadExcelJs(bytes)).getWorksheet("Plain")!;
    expect(sheet.getRow(1).values).toEqual([undefined, ...COLUMNS.map((column) => column.header)]);
    expect(sheet.views[0]).toMatchObject({ state: "frozen", ySplit: 1, topLeftCell: "A2" });
    expect(sheet.autoFilter).toBe("A1:H4");
  });

  it("reads the same through the shared-string table when sharedStrings is on", async () => {
    const generator = createOpenReportGenerator({ sharedStrings: true });
    const bytes = await collect(generator, DEFINITION(), { format: "xlsx" });
    expect(bytes.includes("xl/sharedStrings.xml")).toBe(true);
    const jsSheet = loadSheetJs(bytes).Sheets.Orders!;
    const excelSheet = (await loadExcelJs(bytes)).getWorksheet("Orders")!;
    ROWS.forEach((input, r) => {
      const want = input.name ?? null;
      expect(jsSheet[`B${r + 4}`]?.v ?? null).toBe(want);
      expect(excelSheet.getCell(`B${r + 4}`).value ?? null).toBe(want);
    });
  });

  it("keeps text that looks like an Excel escape (_x0041_) literal", async () => {
    const columns: ReportColumn[] = [{ header: "Text", key: "text", type: "string" }];
    const bytes = await collect(
      createOpenReportGenerator(),
      { sheets: [{ name: "Escapes", columns, rows: [{ text: "_x0041_ and _x000D_" }] }] },
      { format: "xlsx" },
    );
    // SheetJS decodes _xHHHH_ as Excel does; exceljs' reader does not decode it at all.
    expect(loadSheetJs(bytes).Sheets.Escapes!.A2?.v).toBe("_x0041_ and _x000D_");
  });

  it("writes an empty string as an empty cell", async () => {
    const columns: ReportColumn[] = [
      { header: "Text", key: "text", type: "string" },
      { header: "N", key: "n", type: "integer" },
    ];
    const bytes = await collect(
      createOpenReportGenerator(),
      { sheets: [{ name: "Empty", columns, rows: [{ text: "", n: 1 }] }] },
      { format: "xlsx" },
    );
    expect(loadSheetJs(bytes).Sheets.Empty!.A2).toBeUndefined();
    expect((await loadExcelJs(bytes)).getWorksheet("Empty")!.getCell("A2").value).toBeNull();
  });

  it.each([0, 9])("writes a readable file at compression level %i", async (compressionLevel) => {
    const bytes = await collect(createOpenReportGenerator({ compressionLevel }), DEFINITION(), {
      format: "xlsx",
    });
    expect(loadSheetJs(bytes).Sheets.Orders!.A4?.v).toBe(1);
    expect((await loadExcelJs(bytes)).getWorksheet("Orders")!.getCell("A4").value).toBe(1);
  });

  it("names rolled-over sheets after the original, within 31 characters and unique", async () => {
    const generator = createOpenReportGeneratorWith({ maxRowsPerSheet: 5 });
    const columns: ReportColumn[] = [{ header: "N", key: "n", type: "integer" }];
    const rows = (count: number) => Array.from({ length: count }, (_, i) => ({ n: i + 1 }));
    const long = "L".repeat(31);
    const bytes = await collect(
      generator,
      {
        sheets: [
          { name: "Data", columns, rows: rows(8) },
          { name: "Data (2)", columns, rows: rows(1) },
          { name: long, columns, rows: rows(5) },
        ],
      },
      { format: "xlsx" },
    );
    expect(loadSheetJs(bytes).SheetNames).toEqual([
      "Data",
      "Data (3)",
      "Data (2)",
      long,
      `${"L".repeat(27)} (2)`,
    ]);
  });
});
