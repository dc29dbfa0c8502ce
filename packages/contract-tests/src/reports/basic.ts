import type { ReportColumn, ReportRow } from "@proj/ports";
import { describe, expect, it } from "vitest";
import {
  dataValues,
  FORMATS,
  generateBytes,
  type ReportGeneratorHarness,
  readCsv,
  readSheets,
  splitSheet,
} from "./harness.js";

const COLUMNS: readonly ReportColumn[] = [
  { header: "Name", key: "name", type: "string" },
  { header: "Count", key: "count", type: "integer" },
];

async function* asyncRows(rows: readonly ReportRow[]): AsyncGenerator<ReportRow> {
  for (const row of rows) yield row;
}

export function basicTests(harness: ReportGeneratorHarness): void {
  describe("writing", () => {
    it("offers the formats the harness declares", async () => {
      const generator = await harness.create();
      expect([...generator.capabilities.formats].sort()).toEqual([...harness.formats].sort());
    });

    describe.each(FORMATS)("%s", (format) => {
      const skip = !harness.formats.includes(format);

      it.skipIf(skip)("writes every row in order, ends the output and resolves with the counts", async () => {
        const generator = await harness.create();
        const rows = [
          { name: "alpha", count: 1 },
          { name: "beta", count: 2 },
          { name: "gamma", count: 3 },
        ];
        const { result, bytes, output } = await generateBytes(
          generator,
          { sheets: [{ name: "Data", columns: COLUMNS, rows: asyncRows(rows) }] },
          format,
        );
        expect(output.writableFinished).toBe(true);
        expect(result).toEqual({ rowCount: 3, byteSize: bytes.length, sheetCount: 1 });
        const [sheet] = await readSheets(harness, format, bytes);
        const values = dataValues(sheet!, COLUMNS).map((row) => row.map(String));
        expect(values).toEqual([
          ["alpha", "1"],
          ["beta", "2"],
          ["gamma", "3"],
        ]);
      });

      it.skipIf(skip)("accepts a plain iterable (an array) as the rows", async () => {
        const generator = await harness.create();
        const { result, bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Data", columns: COLUMNS, rows: [{ name: "only", count: 7 }] }] },
          format,
        );
        expect(result.rowCount).toBe(1);
        const [sheet] = await readSheets(harness, format, bytes);
        expect(dataValues(sheet!, COLUMNS).map((row) => row.map(String))).toEqual([["only", "7"]]);
      });

      it.skipIf(skip)("writes a sheet without rows as its header alone", async () => {
        const generator = await harness.create();
        const { result, bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Empty", columns: COLUMNS, rows: [] }] },
          format,
        );
        expect(result).toEqual({ rowCount: 0, byteSize: bytes.length, sheetCount: 1 });
        const [sheet] = await readSheets(harness, format, bytes);
        expect(dataValues(sheet!, COLUMNS)).toEqual([]);
      });
    });

    it.skipIf(!harness.formats.includes("xlsx"))(
      "writes several sheets in order, each with its rows, and counts rows over all sheets",
      async () => {
        const generator = await harness.create();
        const pulls: string[] = [];
        async function* tracked(sheet: string, count: number): AsyncGenerator<ReportRow> {
          for (let i = 1; i <= count; i += 1) {
            pulls.push(`${sheet}${i}`);
            yield { name: `${sheet}${i}`, count: i };
          }
        }
        const { result, bytes } = await generateBytes(
          generator,
          {
            sheets: [
              { name: "First", columns: COLUMNS, rows: tracked("a", 2) },
              { name: "Second", columns: COLUMNS, rows: tracked("b", 3) },
            ],
          },
          "xlsx",
        );
        expect(result).toEqual({ rowCount: 5, byteSize: bytes.length, sheetCount: 2 });
        expect(pulls).toEqual(["a1", "a2", "b1", "b2", "b3"]);
        const sheets = await harness.readBack(bytes, "xlsx");
        expect(sheets.map((sheet) => sheet.name)).toEqual(["First", "Second"]);
        expect(dataValues(sheets[0]!, COLUMNS)).toEqual([
          ["a1", 1],
          ["a2", 2],
        ]);
        expect(dataValues(sheets[1]!, COLUMNS)).toEqual([
          ["b1", 1],
          ["b2", 2],
          ["b3", 3],
        ]);
      },
    );

    it.skipIf(!harness.formats.includes("xlsx"))(
      "writes the title above the header row of each XLSX sheet",
      async () => {
        const generator = await harness.create();
        const { bytes } = await generateBytes(
          generator,
          {
            title: "Quarterly sales",
            sheets: [
              { name: "One", columns: COLUMNS, rows: [{ name: "x", count: 1 }] },
              { name: "Two", columns: COLUMNS, rows: [] },
            ],
          },
          "xlsx",
        );
        for (const sheet of await harness.readBack(bytes, "xlsx")) {
          const { above } = splitSheet(sheet, COLUMNS);
          expect(above.flat().map((cell) => cell.value)).toContain("Quarterly sales");
        }
      },
    );

    it.skipIf(!harness.formats.includes("csv"))(
      "ignores the title in CSV: the header is the first record",
      async () => {
        const generator = await harness.create();
        const { bytes } = await generateBytes(
          generator,
          {
            title: "Quarterly sales",
            sheets: [{ name: "Data", columns: COLUMNS, rows: [{ name: "x", count: 1 }] }],
          },
          "csv",
        );
        expect(readCsv(bytes)).toEqual([
          ["Name", "Count"],
          ["x", "1"],
        ]);
      },
    );
  });
}
