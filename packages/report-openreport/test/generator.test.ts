import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { expectErrorCode } from "@proj/contract-tests";
import {
  type GenerateReportOptions,
  InfrastructureError,
  type ReportColumn,
  type ReportRow,
} from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createOpenReportGenerator, type OpenReportGeneratorOptions } from "../src/index.js";
import { createOpenReportGeneratorWith } from "../src/openreport-report-generator.js";
import type { ReportEngine } from "../src/report-engine.js";
import { MemoryOutput } from "./collect.js";
import { loadExcelJs, loadSheetJs } from "./readers.js";

const COLUMNS: ReportColumn[] = [
  { header: "Name", key: "name", type: "string" },
  { header: "Count", key: "count", type: "integer" },
];

/** Async rows that record whether the generator released them. */
function trackedRows(count: number, failAt?: { row: number; value: unknown }) {
  const state = { released: false, pulled: 0 };
  async function* rows(): AsyncGenerator<ReportRow> {
    try {
      for (let i = 1; i <= count; i += 1) {
        state.pulled = i;
        yield i === failAt?.row ? { name: "x", count: failAt.value } : { name: `r${i}`, count: i };
      }
    } finally {
      state.released = true;
    }
  }
  return { rows: rows(), state };
}

describe("createOpenReportGenerator", () => {
  it.each([
    { label: "compressionLevel 10", options: { compressionLevel: 10 } },
    { label: "compressionLevel 1.5", options: { compressionLevel: 1.5 } },
    { label: "maxRowsPerSheet 3", options: { maxRowsPerSheet: 3 } },
    { label: "maxRowsPerSheet past Excel's limit", options: { maxRowsPerSheet: 1_048_577 } },
    { label: "an unknown format", options: { formats: ["pdf" as "csv"] } },
  ])("refuses $label with INVALID_ARGUMENT", async ({ options }) => {
    await expectErrorCode(() => createOpenReportGeneratorWith(options), "INVALID_ARGUMENT");
  });

  it("refuses an unknown option instead of ignoring it", async () => {
    await expectErrorCode(
      () => createOpenReportGenerator({ compresionLevel: 9 } as unknown as OpenReportGeneratorOptions),
      "INVALID_ARGUMENT",
    );
  });

  it.each([
    { label: "an unknown generate option", options: { format: "csv", delimeter: ";" } },
    { label: "a non-boolean bom", options: { format: "csv", bom: "yes" } },
    { label: "a delimiter of two characters", options: { format: "csv", delimiter: ";;" } },
  ])("refuses $label with INVALID_ARGUMENT before writing", async ({ options }) => {
    const output = new MemoryOutput();
    await expectErrorCode(
      createOpenReportGenerator().generate(
        { sheets: [{ name: "S", columns: COLUMNS, rows: [{ name: "a", count: 1 }] }] },
        output,
        options as unknown as GenerateReportOptions,
      ),
      "INVALID_ARGUMENT",
    );
    expect(output.chunks).toEqual([]);
    expect(output.destroyed).toBe(true);
  });

  it("offers only the formats asked for, and refuses the others with NOT_SUPPORTED", async () => {
    const generator = createOpenReportGenerator({ formats: ["csv"] });
    expect(generator.capabilities.formats).toEqual(["csv"]);
    const output = new MemoryOutput();
    await expectErrorCode(
      generator.generate({ sheets: [{ name: "S", columns: COLUMNS, rows: [] }] }, output, { format: "xlsx" }),
      "NOT_SUPPORTED",
    );
    expect(output.destroyed).toBe(true);
  });

  it("hands a validated plan to the engine behind the seam and counts the bytes it yields", async () => {
    const seen: string[] = [];
    const engine: ReportEngine = {
      format: "csv",
      maxSheets: 1,
      async *render(plan, stats) {
        seen.push(...plan.sheets[0]!.columns.map((column) => `${column.key}:${column.numberFormat ?? "-"}`));
        for await (const row of plan.sheets[0]!.rows) {
          stats.rowCount += 1;
          yield Buffer.from(`${String(row.name)}\n`);
        }
        stats.sheetCount = 1;
      },
    };
    const generator = createOpenReportGeneratorWith({ engines: [engine] });
    const output = new MemoryOutput();
    const result = await generator.generate(
      { sheets: [{ name: "S", columns: COLUMNS, rows: [{ name: "a" }, { name: "b" }] }] },
      output,
      { format: "csv" },
    );
    expect(seen).toEqual(["name:-", "count:0"]);
    expect(output.bytes().toString()).toBe("a\nb\n");
    expect(result).toEqual({ rowCount: 2, byteSize: 4, sheetCount: 1 });
  });
});

describe("generate", () => {
  it.each(["xlsx", "csv"] as const)(
    "releases the row iterator when a %s value does not fit",
    async (format) => {
      const { rows, state } = trackedRows(100, { row: 3, value: "three" });
      const output = new MemoryOutput();
      const error = await expectErrorCode(
        createOpenReportGenerator().generate({ sheets: [{ name: "S", columns: COLUMNS, rows }] }, output, {
          format,
        }),
        "INVALID_ARGUMENT",
      );
      expect(error.message).toContain('sheet "S" row 3 column "count"');
      expect(state.pulled).toBe(3);
      expect(state.released).toBe(true);
    },
  );

  it("releases the row iterator when aborted", async () => {
    const { rows, state } = trackedRows(100_000);
    const controller = new AbortController();
    const output = new MemoryOutput();
    const done = createOpenReportGenerator().generate(
      { sheets: [{ name: "S", columns: COLUMNS, rows }] },
      output,
      {
        format: "xlsx",
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(), 5);
    await expectErrorCode(done, "CANCELLED");
    // The engine lets go of the rows once the chunk in flight (its deflate on the thread pool) is
    // back, which a loaded machine can delay past any fixed pause: wait for it, within a bound.
    await vi.waitFor(() => expect(state.released).toBe(true), { timeout: 5_000, interval: 5 });
    expect(state.pulled).toBeLessThan(100_000);
  });

  it("passes a taxonomy error thrown by the rows through unchanged", async () => {
    const unavailable = new InfrastructureError("UNAVAILABLE", "the database went away");
    async function* rows(): AsyncGenerator<ReportRow> {
      yield { name: "a", count: 1 };
      throw unavailable;
    }
    const caught = await createOpenReportGenerator()
      .generate({ sheets: [{ name: "S", columns: COLUMNS, rows: rows() }] }, new MemoryOutput(), {
        format: "xlsx",
      })
      .catch((error: unknown) => error);
    expect(caught).toBe(unavailable);
  });

  it("maps an output that fails with ENOSPC to RESOURCE_EXHAUSTED", async () => {
    const output = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error("no space left on device"), { code: "ENOSPC" }));
      },
    });
    const rows = Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, count: i }));
    await expectErrorCode(
      createOpenReportGenerator().generate({ sheets: [{ name: "S", columns: COLUMNS, rows }] }, output, {
        format: "csv",
      }),
      "RESOURCE_EXHAUSTED",
    );
  });

  it("maps an output closed before the end (a client that went away) to UNAVAILABLE", async () => {
    let writes = 0;
    const output: Writable = new Writable({
      highWaterMark: 1024,
      write(_chunk, _encoding, callback) {
        writes += 1;
        setImmediate(callback);
        if (writes === 3) output.destroy();
      },
    });
    const { rows, state } = trackedRows(200_000);
    const done = createOpenReportGenerator().generate(
      { sheets: [{ name: "S", columns: COLUMNS, rows }] },
      output,
      {
        format: "csv",
      },
    );
    await expectErrorCode(done, "UNAVAILABLE");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(state.released).toBe(true);
    expect(state.pulled).toBeLessThan(200_000);
  });

  it.each([
    { label: "text over 32,767 characters", column: "string", value: "x".repeat(32_768) },
    { label: "a date before 1900-03-01", column: "date", value: "1900-02-28" },
    { label: "a date after 9999", column: "date", value: new Date(Date.UTC(10_000, 0, 1)) },
    { label: "a bigint beyond 2^53", column: "integer", value: 2n ** 60n },
    { label: "a row that is not an object", column: "string", value: Symbol.for("row") },
  ] as const)("refuses $label in XLSX with INVALID_ARGUMENT", async ({ column, value }) => {
    const columns: ReportColumn[] = [{ header: "V", key: "v", type: column }];
    const row = typeof value === "symbol" ? (null as unknown as ReportRow) : { v: value };
    await expectErrorCode(
      createOpenReportGenerator().generate(
        { sheets: [{ name: "S", columns, rows: [row] }] },
        new MemoryOutput(),
        {
          format: "xlsx",
        },
      ),
      "INVALID_ARGUMENT",
    );
  });

  it("accepts decimal strings and bigints in XLSX numeric columns as numbers", async () => {
    const columns: ReportColumn[] = [
      { header: "Amount", key: "amount", type: "currency" },
      { header: "Count", key: "count", type: "integer" },
    ];
    const output = new MemoryOutput();
    await createOpenReportGenerator().generate(
      { sheets: [{ name: "S", columns, rows: [{ amount: "1234.50", count: 7n }] }] },
      output,
      { format: "xlsx" },
    );
    const sheet = loadSheetJs(output.bytes()).Sheets.S!;
    expect([sheet.A2?.v, sheet.B2?.v]).toEqual([1234.5, 7]);
  });
});

describe("writing to a file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "report-openreport-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes an XLSX file both readers open, and byteSize matches the file", async () => {
    const path = join(dir, "report.xlsx");
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ name: `row ${i}`, count: i }));
    const result = await createOpenReportGenerator().generate(
      { title: "File", sheets: [{ name: "S", columns: COLUMNS, rows }] },
      createWriteStream(path),
      { format: "xlsx" },
    );
    const bytes = await readFile(path);
    expect(result).toEqual({ rowCount: 5_000, byteSize: bytes.length, sheetCount: 1 });
    expect((await loadExcelJs(bytes)).getWorksheet("S")!.getCell("B5003").value).toBe(4_999);
    expect(loadSheetJs(bytes).Sheets.S!.A5003?.v).toBe("row 4999");
  });

  it("maps a path in a missing folder to NOT_FOUND", async () => {
    await expectErrorCode(
      createOpenReportGenerator().generate(
        { sheets: [{ name: "S", columns: COLUMNS, rows: [{ name: "a", count: 1 }] }] },
        createWriteStream(join(dir, "missing", "report.csv")),
        { format: "csv" },
      ),
      "NOT_FOUND",
    );
  });
});
