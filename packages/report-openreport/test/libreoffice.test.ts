import { execFile, spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ReportColumn } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createOpenReportGenerator } from "../src/index.js";

/** LibreOffice is a third, independent consumer; it is optional on a developer machine. */
const hasSoffice = spawnSync("sh", ["-c", "command -v soffice"]).status === 0;

const COLUMNS: ReportColumn[] = [
  { header: "Id", key: "id", type: "integer" },
  { header: "Name", key: "name", type: "string" },
  { header: "Amount", key: "amount", type: "currency" },
  { header: "Share", key: "share", type: "percent" },
  { header: "Day", key: "day", type: "date" },
  { header: "Paid", key: "paid", type: "boolean" },
];

describe("LibreOffice", () => {
  it.skipIf(!hasSoffice)(
    "opens the XLSX and shows every cell in its number format, formula-looking text as text",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "report-openreport-lo-"));
      try {
        const xlsx = join(dir, "sample.xlsx");
        await createOpenReportGenerator().generate(
          {
            title: "LibreOffice check",
            sheets: [
              {
                name: "First",
                columns: COLUMNS,
                rows: [
                  { id: 1, name: "=1+2", amount: 1234.5, share: 0.125, day: "2024-02-29", paid: true },
                  {
                    id: 2,
                    name: 'a & b, "c"',
                    amount: null,
                    share: 1,
                    day: new Date(Date.UTC(2023, 11, 31)),
                    paid: false,
                  },
                ],
              },
            ],
          },
          createWriteStream(xlsx),
          { format: "xlsx" },
        );
        // Comma-separated, double quotes, UTF-8, cells exported as shown (the ninth token).
        const filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true";
        await promisify(execFile)(
          "soffice",
          [
            "--headless",
            `-env:UserInstallation=file://${dir}/profile`,
            "--convert-to",
            filter,
            "--outdir",
            dir,
            xlsx,
          ],
          { timeout: 110_000 },
        );
        const shown = await readFile(join(dir, "sample.csv"), "utf8");
        expect(shown.split(/\r?\n/).filter((line) => line.length > 0)).toEqual([
          "LibreOffice check,,,,,",
          ",,,,,",
          "Id,Name,Amount,Share,Day,Paid",
          '1,=1+2,"1,234.50",12.50%,2024-02-29,TRUE',
          '2,"a & b, ""c""",,100.00%,2023-12-31,FALSE',
        ]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
