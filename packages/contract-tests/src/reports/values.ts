import type { ReportColumn, ReportColumnType, ReportRow } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import {
  CollectingWritable,
  dataValues,
  FORMATS,
  generateBytes,
  type ReportGeneratorHarness,
  readCsv,
  readSheets,
  splitSheet,
  TYPED_COLUMNS,
} from "./harness.js";

const FEB_29 = new Date(Date.UTC(2024, 1, 29, 13, 45));

const TYPED_ROWS: readonly ReportRow[] = [
  { text: "hello", number: 3.25, integer: 42, currency: 1234.5, percent: 0.125, date: FEB_29, flag: true },
  { text: "00123", number: -0.5, integer: -7, currency: 0, percent: 1, date: "2023-12-31", flag: false },
  {
    text: "x",
    number: 1e15,
    integer: 9_007_199_254_740_991,
    currency: -99.99,
    percent: -0.5,
    date: "2024-06-01T08:30:00.000Z",
    flag: true,
  },
];

const TYPED_EXPECTED = [
  ["hello", 3.25, 42, 1234.5, 0.125, FEB_29, true],
  ["00123", -0.5, -7, 0, 1, new Date(Date.UTC(2023, 11, 31)), false],
  ["x", 1e15, 9_007_199_254_740_991, -99.99, -0.5, new Date(Date.UTC(2024, 5, 1, 8, 30)), true],
];

const FORMULA_LOOKING = ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://example.com")'];

const TEXT_COLUMN: readonly ReportColumn[] = [
  { header: "Text", key: "text", type: "string" },
  { header: "End", key: "end", type: "integer" },
];

const MISFITS: readonly { type: ReportColumnType; value: unknown; label: string }[] = [
  { type: "number", value: "abc", label: 'the string "abc" in a number column' },
  { type: "number", value: Number.NaN, label: "NaN in a number column" },
  { type: "currency", value: Number.POSITIVE_INFINITY, label: "Infinity in a currency column" },
  { type: "percent", value: {}, label: "an object in a percent column" },
  { type: "integer", value: 1.5, label: "1.5 in an integer column" },
  { type: "date", value: "not a date", label: 'the string "not a date" in a date column' },
  { type: "date", value: new Date(Number.NaN), label: "an invalid Date in a date column" },
  { type: "boolean", value: "yes", label: 'the string "yes" in a boolean column' },
];

export function valueTests(harness: ReportGeneratorHarness): void {
  const xlsx = harness.formats.includes("xlsx");
  const csv = harness.formats.includes("csv");

  describe("values", () => {
    it.skipIf(!xlsx)(
      "keeps XLSX numbers as numbers, dates (Date or ISO string) as dates, booleans as booleans",
      async () => {
        const generator = await harness.create();
        const { bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Typed", columns: TYPED_COLUMNS, rows: TYPED_ROWS }] },
          "xlsx",
        );
        const [sheet] = await harness.readBack(bytes, "xlsx");
        const values = dataValues(sheet!, TYPED_COLUMNS);
        expect(values).toEqual(TYPED_EXPECTED);
        for (const row of values) {
          expect(row[5], "a date cell must read back as a Date").toBeInstanceOf(Date);
        }
      },
    );

    it.skipIf(!xlsx)("gives each XLSX column type its default number format", async () => {
      const generator = await harness.create();
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Typed", columns: TYPED_COLUMNS, rows: TYPED_ROWS.slice(0, 1) }] },
        "xlsx",
      );
      const [sheet] = await harness.readBack(bytes, "xlsx");
      const [row] = splitSheet(sheet!, TYPED_COLUMNS).data;
      expect(row!.slice(1, 6).map((cell) => cell.numberFormat)).toEqual([
        "0.00",
        "0",
        "#,##0.00",
        "0.00%",
        "yyyy-mm-dd",
      ]);
    });

    it.skipIf(!xlsx)("applies a column's own number format", async () => {
      const generator = await harness.create();
      const columns: ReportColumn[] = [
        { header: "Amount", key: "amount", type: "currency", numberFormat: '#,##0.00 "EUR"' },
        { header: "At", key: "at", type: "date", numberFormat: "dd.mm.yyyy hh:mm" },
      ];
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Formats", columns, rows: [{ amount: 12.5, at: FEB_29 }] }] },
        "xlsx",
      );
      const [sheet] = await harness.readBack(bytes, "xlsx");
      const [row] = splitSheet(sheet!, columns).data;
      expect(row!.map((cell) => cell.numberFormat)).toEqual(['#,##0.00 "EUR"', "dd.mm.yyyy hh:mm"]);
      expect(row!.map((cell) => cell.value)).toEqual([12.5, FEB_29]);
    });

    it.skipIf(!csv)("writes CSV numbers that parse back exactly, ISO dates and true/false", async () => {
      const generator = await harness.create();
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Typed", columns: TYPED_COLUMNS, rows: TYPED_ROWS }] },
        "csv",
      );
      const [, ...records] = readCsv(bytes);
      expect(records).toHaveLength(TYPED_EXPECTED.length);
      records.forEach((record, r) => {
        const expected = TYPED_EXPECTED[r]!;
        expect(record[0]).toBe(expected[0]);
        for (let c = 1; c <= 4; c += 1)
          expect(Number(record[c]), `column ${c} of row ${r + 1}`).toBe(expected[c]);
        expect(Date.parse(record[5]!), `date of row ${r + 1}: ${record[5]}`).toBe(
          (expected[5] as Date).getTime(),
        );
        expect(record[6]!.toLowerCase()).toBe(String(expected[6]));
      });
    });

    describe.each(FORMATS)("%s", (format) => {
      const skip = !harness.formats.includes(format);

      it.skipIf(skip)("writes null, undefined and missing values as empty cells", async () => {
        const generator = await harness.create();
        const { bytes } = await generateBytes(
          generator,
          {
            sheets: [
              {
                name: "Gaps",
                columns: TYPED_COLUMNS,
                rows: [
                  { text: null, number: undefined, integer: 1, currency: null, date: null, flag: null },
                  {},
                  { text: "last" },
                ],
              },
            ],
          },
          format,
        );
        const [sheet] = await readSheets(harness, format, bytes);
        const empty = format === "csv" ? "" : null;
        const blank = TYPED_COLUMNS.map(() => empty);
        expect(dataValues(sheet!, TYPED_COLUMNS)).toEqual([
          [empty, empty, format === "csv" ? "1" : 1, empty, empty, empty, empty],
          blank,
          ["last", ...blank.slice(1)],
        ]);
      });

      it.skipIf(skip)("never writes a string starting with = + - @ tab or CR as a formula", async () => {
        const generator = await harness.create();
        const rows = FORMULA_LOOKING.map((text, i) => ({ text, end: i }));
        const { bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Strings", columns: TEXT_COLUMN, rows }] },
          format,
        );
        const [sheet] = await readSheets(harness, format, bytes);
        const { data } = splitSheet(sheet!, TEXT_COLUMN);
        expect(data.map((row) => row[0]!.formula)).toEqual(FORMULA_LOOKING.map(() => undefined));
        const expected = FORMULA_LOOKING.map((text) => (format === "csv" ? `'${text}` : text));
        expect(data.map((row) => row[0]!.value)).toEqual(expected);
      });

      it.skipIf(skip)("drops characters invalid in XML and keeps all other text intact", async () => {
        const generator = await harness.create();
        const rows = [
          { text: "a\u0000b\u0001c\u000bd\ufffee\ud800f", end: 1 },
          { text: "tab\there, é 中 😀 & <tag>", end: 2 },
        ];
        const { bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Text", columns: TEXT_COLUMN, rows }] },
          format,
        );
        const [sheet] = await readSheets(harness, format, bytes);
        expect(dataValues(sheet!, TEXT_COLUMN).map((row) => row[0])).toEqual([
          "abcdef",
          "tab\there, é 中 😀 & <tag>",
        ]);
      });

      it.skipIf(skip)(
        "reads a row's own properties only: a key every object inherits (constructor, toString) is empty when the row lacks it",
        async () => {
          const generator = await harness.create();
          const columns: ReportColumn[] = [
            { header: "Constructor", key: "constructor", type: "string" },
            { header: "ToString", key: "toString", type: "string" },
            { header: "Name", key: "name", type: "string" },
          ];
          const rows: ReportRow[] = [{ name: "a" }, { constructor: "own", toString: "mine", name: "b" }];
          const { bytes } = await generateBytes(
            generator,
            { sheets: [{ name: "Own", columns, rows }] },
            format,
          );
          const [sheet] = await readSheets(harness, format, bytes);
          const empty = format === "csv" ? "" : null;
          expect(dataValues(sheet!, columns)).toEqual([
            [empty, empty, "a"],
            ["own", "mine", "b"],
          ]);
        },
      );

      it.skipIf(skip).each([
        { label: "an array", row: ["a", 1] },
        { label: "a Map", row: new Map<string, unknown>([["text", "a"]]) },
      ])("refuses a row that is $label with INVALID_ARGUMENT", async ({ row }) => {
        const generator = await harness.create();
        const output = new CollectingWritable();
        await expectErrorCode(
          generator.generate(
            {
              sheets: [
                {
                  name: "Rows",
                  columns: TEXT_COLUMN,
                  rows: [{ text: "ok", end: 1 }, row as unknown as ReportRow],
                },
              ],
            },
            output,
            { format },
          ),
          "INVALID_ARGUMENT",
        );
        expect(output.destroyed).toBe(true);
      });

      it.skipIf(skip).each(MISFITS)(
        "rejects $label with INVALID_ARGUMENT and destroys the output",
        async ({ type, value }) => {
          const generator = await harness.create();
          const output = new CollectingWritable();
          const columns: ReportColumn[] = [{ header: "Value", key: "value", type }];
          const fitting = type === "date" ? FEB_29 : type === "boolean" ? true : 1;
          await expectErrorCode(
            generator.generate(
              { sheets: [{ name: "Misfit", columns, rows: [{ value: fitting }, { value }] }] },
              output,
              { format },
            ),
            "INVALID_ARGUMENT",
          );
          expect(output.destroyed).toBe(true);
        },
      );
    });
  });
}
