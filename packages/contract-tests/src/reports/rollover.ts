import type { ReportColumn } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { dataValues, generateBytes, type ReportGeneratorHarness } from "./harness.js";

const COLUMNS: readonly ReportColumn[] = [{ header: "N", key: "n", type: "integer" }];
/** Rows per sheet in these tests, header included: 9 data rows each. */
const LIMIT = 10;

function numbered(count: number) {
  return Array.from({ length: count }, (_, i) => ({ n: i + 1 }));
}

export function rolloverTests(harness: ReportGeneratorHarness): void {
  const { createWithSheetRowLimit } = harness;
  const skip = !harness.formats.includes("xlsx") || createWithSheetRowLimit === undefined;

  describe("sheet row limit", () => {
    it.skipIf(skip)(
      "rolls rows past the limit over to new sheets and counts every sheet written",
      async () => {
        const generator = await createWithSheetRowLimit!.call(harness, LIMIT);
        const { result, bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Big", columns: COLUMNS, rows: numbered(25) }] },
          "xlsx",
        );
        expect(result.rowCount).toBe(25);
        expect(result.sheetCount).toBe(3);
        const sheets = await harness.readBack(bytes, "xlsx");
        expect(sheets).toHaveLength(3);
        expect(sheets[0]!.name).toBe("Big");
        expect(new Set(sheets.map((sheet) => sheet.name.toLowerCase())).size).toBe(3);
        for (const sheet of sheets) expect(sheet.rows.length).toBeLessThanOrEqual(LIMIT);
        const values = sheets.flatMap((sheet) => dataValues(sheet, COLUMNS).map((row) => row[0]));
        expect(values).toEqual(numbered(25).map((row) => row.n));
      },
    );

    it.skipIf(skip)("starts no extra sheet when the rows fill the last one exactly", async () => {
      const generator = await createWithSheetRowLimit!.call(harness, LIMIT);
      const { result, bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Exact", columns: COLUMNS, rows: numbered(18) }] },
        "xlsx",
      );
      expect(result).toMatchObject({ rowCount: 18, sheetCount: 2 });
      expect(await harness.readBack(bytes, "xlsx")).toHaveLength(2);
    });
  });
}
