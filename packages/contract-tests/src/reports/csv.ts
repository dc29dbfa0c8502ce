import type { ReportColumn, ReportRow } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { CollectingWritable, generateBytes, type ReportGeneratorHarness, readCsv } from "./harness.js";

const COLUMNS: readonly ReportColumn[] = [
  { header: "Text", key: "text", type: "string" },
  { header: "Number", key: "number", type: "number" },
];

const AWKWARD = [
  "a,b",
  'say "hi"',
  "line1\r\nline2",
  "lf\nonly",
  "cr\ronly",
  "plain",
  "",
  "é 中 😀",
  "semi;colon",
  "tab\tbed",
];

/** Text with a formula after a separator some reader may split on, and how the guard writes it. */
const FORMULAS_AFTER_SEPARATORS = [
  ["a;=1+1", "a;'=1+1"],
  ["a\t=1+1", "a\t'=1+1"],
  ["a,+1", "a,'+1"],
  ["x\n@SUM(A1)", "x\n'@SUM(A1)"],
  ["x\r\n-2", "x\r\n'-2"],
  ["=a;=b", "'=a;'=b"],
  ["safe; text, here", "safe; text, here"],
] as const;

const DELIMITERS = [";", "\t"] as const;

export function csvTests(harness: ReportGeneratorHarness): void {
  describe.skipIf(!harness.formats.includes("csv"))("csv", () => {
    it("ends every record with CRLF, the last one included", async () => {
      const generator = await harness.create();
      const rows: ReportRow[] = [
        { text: "one", number: 1 },
        { text: "two", number: 2 },
      ];
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Data", columns: COLUMNS, rows }] },
        "csv",
      );
      expect(bytes.toString("utf8")).toBe("Text,Number\r\none,1\r\ntwo,2\r\n");
    });

    it("quotes fields holding a comma, semicolon, tab, quote, CR or LF, doubling inner quotes", async () => {
      const generator = await harness.create();
      const rows = AWKWARD.map((text, i) => ({ text, number: i }));
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Data", columns: COLUMNS, rows }] },
        "csv",
      );
      const text = bytes.toString("utf8");
      expect(text).toContain('"a,b",0\r\n');
      expect(text).toContain('"say ""hi""",1\r\n');
      expect(text).toContain('"line1\r\nline2",2\r\n');
      expect(text).toContain('"lf\nonly",3\r\n');
      expect(text).toContain('"cr\ronly",4\r\n');
      expect(text).toContain('"semi;colon",8\r\n');
      expect(text).toContain('"tab\tbed",9\r\n');
      expect(readCsv(bytes).slice(1)).toEqual(AWKWARD.map((value, i) => [value, String(i)]));
    });

    it("puts the formula guard after every separator a reader may split on", async () => {
      const generator = await harness.create();
      const rows = FORMULAS_AFTER_SEPARATORS.map(([text], i) => ({ text, number: i }));
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Data", columns: COLUMNS, rows }] },
        "csv",
      );
      expect(
        readCsv(bytes)
          .slice(1)
          .map((record) => record[0]),
      ).toEqual(FORMULAS_AFTER_SEPARATORS.map(([, guarded]) => guarded));
      // A reader splitting on any separator, even one that ignores quoting, finds no formula start.
      const pieces = bytes.toString("utf8").split(/[,;\t\r\n]/);
      expect(pieces.filter((piece) => /^"?[=+\-@]/.test(piece))).toEqual([]);
    });

    it.each(DELIMITERS)(
      "writes the delimiter %j when asked, quoting fields holding any separator",
      async (delimiter) => {
        const generator = await harness.create();
        const rows = AWKWARD.map((text, i) => ({ text, number: i + 0.5 }));
        const { bytes } = await generateBytes(
          generator,
          { sheets: [{ name: "Data", columns: COLUMNS, rows }] },
          "csv",
          { delimiter },
        );
        const text = bytes.toString("utf8");
        expect(text.startsWith(`Text${delimiter}Number\r\n`)).toBe(true);
        expect(text).toContain(`"a,b"${delimiter}0.5\r\n`);
        expect(text).toContain(`"semi;colon"${delimiter}8.5\r\n`);
        expect(readCsv(bytes, delimiter).slice(1)).toEqual(
          AWKWARD.map((value, i) => [value, String(i + 0.5)]),
        );
      },
    );

    it("refuses a delimiter other than comma, semicolon or tab with INVALID_ARGUMENT", async () => {
      const generator = await harness.create();
      const output = new CollectingWritable();
      await expectErrorCode(
        generator.generate({ sheets: [{ name: "Data", columns: COLUMNS, rows: [] }] }, output, {
          format: "csv",
          delimiter: "|" as ",",
        }),
        "INVALID_ARGUMENT",
      );
    });

    it("writes UTF-8 without a byte order mark by default", async () => {
      const generator = await harness.create();
      const { bytes } = await generateBytes(
        generator,
        { sheets: [{ name: "Data", columns: COLUMNS, rows: [{ text: "Grüße 中 😀", number: 1 }] }] },
        "csv",
      );
      expect(readCsv(bytes)[1]).toEqual(["Grüße 中 😀", "1"]);
    });

    it("starts with a UTF-8 byte order mark when bom is true, counted in byteSize", async () => {
      const generator = await harness.create();
      const { bytes, result } = await generateBytes(
        generator,
        { sheets: [{ name: "Data", columns: COLUMNS, rows: [{ text: "x", number: 1 }] }] },
        "csv",
        { bom: true },
      );
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expect(bytes.subarray(3).toString("utf8")).toBe("Text,Number\r\nx,1\r\n");
      expect(result.byteSize).toBe(bytes.length);
    });

    it("refuses a definition with more than one sheet with INVALID_ARGUMENT and destroys the output", async () => {
      const generator = await harness.create();
      const output = new CollectingWritable();
      await expectErrorCode(
        generator.generate(
          {
            sheets: [
              { name: "One", columns: COLUMNS, rows: [{ text: "x", number: 1 }] },
              { name: "Two", columns: COLUMNS, rows: [] },
            ],
          },
          output,
          { format: "csv" },
        ),
        "INVALID_ARGUMENT",
      );
      expect(output.destroyed).toBe(true);
    });
  });
}
