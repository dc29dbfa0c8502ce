import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectErrorCode } from "@proj/contract-tests";
import type { ReportColumn, ReportRow } from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenReportGenerator, writeReportFile } from "../src/index.js";

const COLUMNS: ReportColumn[] = [{ header: "N", key: "n", type: "integer" }];

async function* slowRows(): AsyncGenerator<ReportRow> {
  for (let n = 0; n < 100_000; n += 1) {
    if (n % 1_000 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    yield { n };
  }
}

describe("writeReportFile", () => {
  let dir: string;
  const generator = createOpenReportGenerator();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "report-file-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the whole report under its name and leaves no temporary file", async () => {
    const path = join(dir, "whole.csv");
    const result = await writeReportFile(
      generator,
      { sheets: [{ name: "S", columns: COLUMNS, rows: [{ n: 1 }, { n: 2 }] }] },
      path,
      { format: "csv" },
    );
    expect(await readFile(path, "utf8")).toBe("N\r\n1\r\n2\r\n");
    expect(result).toEqual({ rowCount: 2, byteSize: 9, sheetCount: 1 });
    expect(await readdir(dir)).toEqual(["whole.csv"]);
  });

  it.each(["xlsx", "csv"] as const)(
    "leaves the previous file untouched and no partial file behind when a %s report is cancelled",
    async (format) => {
      const path = join(dir, `kept.${format}`);
      await writeFile(path, "the previous report");
      await expectErrorCode(
        writeReportFile(generator, { sheets: [{ name: "S", columns: COLUMNS, rows: slowRows() }] }, path, {
          format,
          signal: AbortSignal.timeout(50),
        }),
        "TIMEOUT",
      );
      expect(await readFile(path, "utf8")).toBe("the previous report");
      expect((await readdir(dir)).filter((name) => name.endsWith(".partial"))).toEqual([]);
    },
  );

  it("is needed: generate into a plain file stream leaves the partial file to its caller", async () => {
    const path = join(dir, "partial.csv");
    await expectErrorCode(
      generator.generate(
        { sheets: [{ name: "S", columns: COLUMNS, rows: slowRows() }] },
        createWriteStream(path),
        {
          format: "csv",
          signal: AbortSignal.timeout(50),
        },
      ),
      "TIMEOUT",
    );
    expect((await stat(path)).isFile()).toBe(true);
    await rm(path);
  });

  it("maps a missing folder to NOT_FOUND", async () => {
    await expectErrorCode(
      writeReportFile(
        generator,
        { sheets: [{ name: "S", columns: COLUMNS, rows: [] }] },
        join(dir, "missing", "r.csv"),
        { format: "csv" },
      ),
      "NOT_FOUND",
    );
  });
});
