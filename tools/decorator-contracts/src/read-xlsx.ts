import type { ReadBackCell, ReadBackSheet } from "@proj/contract-tests";
import ExcelJS from "exceljs";

function cellOf(cell: ExcelJS.Cell): ReadBackCell {
  const value = cell.value;
  const numberFormat = cell.numFmt || undefined;
  if (value === null || value === undefined) return { value: null };
  if (value instanceof Date || typeof value !== "object") return { value, numberFormat };
  if ("formula" in value)
    return { value: String(value.result ?? ""), formula: String(value.formula), numberFormat };
  if ("richText" in value) return { value: value.richText.map((run) => run.text).join(""), numberFormat };
  return { value: JSON.stringify(value), numberFormat };
}

/** Reads an XLSX back with exceljs, a reader independent of the generator. */
export async function readXlsx(bytes: Buffer): Promise<ReadBackSheet[]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  return workbook.worksheets.map((sheet) => {
    const rows: ReadBackCell[][] = [];
    for (let r = 1; r <= sheet.rowCount; r += 1) {
      const row = sheet.getRow(r);
      const cells: ReadBackCell[] = [];
      for (let c = 1; c <= row.cellCount; c += 1) cells.push(cellOf(row.getCell(c)));
      rows.push(cells);
    }
    return { name: sheet.name, rows };
  });
}
