import type { ReportColumn, ReportRow } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { CollectingWritable, generateBytes, type ReportGeneratorHarness, readCsv } from "./harness.js";

const COLUMNS: readonly ReportColumn[] = [
  { header: "Text", key: "text", type: "string" },
  { header: "Number", key: "number", type: "number" },
];

const AWKWARD = ["a,b", 'say "hi"', "line1\r\nline2", "lf\nonly", "cr\ronly", "plain", "", "é 中 😀"];

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

    it("quotes fields holding a comma, quote, CR or LF, doubling inner quotes", async () => {
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
      expect(readCsv(bytes).slice(1)).toEqual(AWKWARD.map((value, i) => [value, String(i)]));
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
