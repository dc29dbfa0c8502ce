import type { ReportColumn, ReportDefinition, ReportFormat } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { CollectingWritable, FORMATS, generateBytes, type ReportGeneratorHarness } from "./harness.js";

const COLUMNS: readonly ReportColumn[] = [{ header: "Name", key: "name", type: "string" }];

const BAD_SHEET_NAMES = [
  "",
  "x".repeat(32),
  "a[b",
  "a]b",
  "a:b",
  "a*b",
  "a?b",
  "a/b",
  "a\\b",
  // Empty once the characters XML cannot hold are dropped.
  "\u0001\u0002",
  // Excel reserves it (in any case) for its change history.
  "History",
  "HISTORY",
];

/** Pairs of names a reader shows alike: control characters dropped, tab, CR and LF shown as a space. */
const SAME_AS_READ = [
  ["Data", "Da\u0000ta"],
  ["a b", "a\tb"],
  ["A\r\nB", "a b"],
  ["x\ny", "X\rY"],
];

async function expectRefused(
  harness: ReportGeneratorHarness,
  definition: ReportDefinition,
  format: ReportFormat,
) {
  const generator = await harness.create();
  const output = new CollectingWritable();
  await expectErrorCode(generator.generate(definition, output, { format }), "INVALID_ARGUMENT");
  expect(output.destroyed, "the output must be destroyed").toBe(true);
}

export function definitionTests(harness: ReportGeneratorHarness): void {
  describe("definitions", () => {
    it("rejects a format not in capabilities.formats with NOT_SUPPORTED", async () => {
      const generator = await harness.create();
      const output = new CollectingWritable();
      await expectErrorCode(
        generator.generate({ sheets: [{ name: "Data", columns: COLUMNS, rows: [] }] }, output, {
          format: "ods" as ReportFormat,
        }),
        "NOT_SUPPORTED",
      );
    });

    describe.each(FORMATS)("%s", (format) => {
      const skip = !harness.formats.includes(format);

      it.skipIf(skip).each(BAD_SHEET_NAMES)(
        "rejects the sheet name %j with INVALID_ARGUMENT",
        async (name) => {
          await expectRefused(
            harness,
            { sheets: [{ name, columns: COLUMNS, rows: [{ name: "x" }] }] },
            format,
          );
        },
      );

      it.skipIf(skip)("accepts a sheet name of 31 characters", async () => {
        const generator = await harness.create();
        const { result } = await generateBytes(
          generator,
          { sheets: [{ name: "n".repeat(31), columns: COLUMNS, rows: [{ name: "x" }] }] },
          format,
        );
        expect(result.rowCount).toBe(1);
      });

      it.skipIf(skip)("rejects columns with duplicate keys with INVALID_ARGUMENT", async () => {
        const columns: ReportColumn[] = [
          { header: "A", key: "same", type: "string" },
          { header: "B", key: "same", type: "number" },
        ];
        await expectRefused(harness, { sheets: [{ name: "Data", columns, rows: [{ same: "x" }] }] }, format);
      });
    });

    it.skipIf(!harness.formats.includes("xlsx")).each(SAME_AS_READ)(
      "rejects the sheet names %j and %j, which a reader shows alike, with INVALID_ARGUMENT",
      async (first, second) => {
        await expectRefused(
          harness,
          {
            sheets: [
              { name: first, columns: COLUMNS, rows: [] },
              { name: second, columns: COLUMNS, rows: [] },
            ],
          },
          "xlsx",
        );
      },
    );

    it.skipIf(!harness.formats.includes("xlsx"))(
      "writes a sheet name as a reader shows it, its length counted after normalising",
      async () => {
        const generator = await harness.create();
        const long = `${"n".repeat(15)}\t${"m".repeat(15)}\u0001`;
        const { bytes } = await generateBytes(
          generator,
          {
            sheets: [
              { name: long, columns: COLUMNS, rows: [{ name: "x" }] },
              { name: "two\r\nlines", columns: COLUMNS, rows: [{ name: "y" }] },
            ],
          },
          "xlsx",
        );
        const sheets = await harness.readBack(bytes, "xlsx");
        expect(sheets.map((sheet) => sheet.name)).toEqual([
          `${"n".repeat(15)} ${"m".repeat(15)}`,
          "two lines",
        ]);
      },
    );

    it.skipIf(!harness.formats.includes("xlsx"))(
      "rejects duplicate sheet names with INVALID_ARGUMENT",
      async () => {
        await expectRefused(
          harness,
          {
            sheets: [
              { name: "Data", columns: COLUMNS, rows: [] },
              { name: "Data", columns: COLUMNS, rows: [] },
            ],
          },
          "xlsx",
        );
      },
    );
  });
}
