import type { ReadBackCell, ReadBackSheet } from "@proj/contract-tests";
import ExcelJS from "exceljs";
import * as XLSX from "xlsx";

// SheetJS 0.18 builds its Dates in the process's time zone, while the serials written are UTC.
process.env.TZ = "UTC";

type ExcelCell = ExcelJS.Cell;

function excelJsValue(cell: ExcelCell): ReadBackCell {
  const value = cell.value;
  const numberFormat = cell.numFmt || undefined;
  if (value === null || value === undefined) return { value: null };
  if (value instanceof Date || typeof value !== "object") return { value, numberFormat };
  if ("formula" in value)
    return { value: String(value.result ?? ""), formula: String(value.formula), numberFormat };
  if ("richText" in value) return { value: value.richText.map((run) => run.text).join(""), numberFormat };
  return { value: JSON.stringify(value), numberFormat };
}

/** Reads an XLSX with exceljs' reader, the harness's reader for the contract. */
export async function readWithExcelJs(bytes: Buffer): Promise<ReadBackSheet[]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  return workbook.worksheets.map((sheet) => {
    const rows: ReadBackCell[][] = [];
    for (let r = 1; r <= sheet.rowCount; r += 1) {
      const row = sheet.getRow(r);
      const cells: ReadBackCell[] = [];
      for (let c = 1; c <= row.cellCount; c += 1) cells.push(excelJsValue(row.getCell(c)));
      rows.push(cells);
    }
    return { name: sheet.name, rows };
  });
}

export async function loadExcelJs(bytes: Buffer): Promise<ExcelJS.Workbook> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  return workbook;
}

export function loadSheetJs(bytes: Buffer): XLSX.WorkBook {
  return XLSX.read(bytes, { type: "buffer", cellDates: true, cellNF: true, cellStyles: true });
}

/** Reads an XLSX with SheetJS, an independent second reader. */
export function readWithSheetJs(bytes: Buffer): ReadBackSheet[] {
  const workbook = loadSheetJs(bytes);
  return workbook.SheetNames.map((name) => {
    const sheet = workbook.Sheets[name]!;
    const range = XLSX.utils.decode_range(sheet["!ref"] ?? "A1:A1");
    const rows: ReadBackCell[][] = [];
    for (let r = 0; r <= range.e.r; r += 1) {
      const cells: ReadBackCell[] = [];
      for (let c = 0; c <= range.e.c; c += 1) {
        const cell = sheet[XLSX.utils.encode_cell({ r, c })] as XLSX.CellObject | undefined;
        if (cell === undefined || cell.t === "z") cells.push({ value: null });
        else {
          const value = cell.v instanceof Date || typeof cell.v !== "object" ? (cell.v ?? null) : null;
          const read: ReadBackCell = { value: cell.t === "e" ? `#ERROR ${String(cell.w)}` : value };
          if (typeof cell.z === "string") read.numberFormat = cell.z;
          if (cell.f !== undefined) read.formula = cell.f;
          cells.push(read);
        }
      }
      while (cells.length > 0 && cells[cells.length - 1]!.value === null) cells.pop();
      rows.push(cells);
    }
    return { name, rows };
  });
}
