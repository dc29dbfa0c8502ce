/**
 * The reference engine process: this package's own XLSX and CSV engines behind the engine protocol
 * (`engine-protocol.ts`, README "Engine protocol"). Run as `node dist/engine-child.js`; it serves one
 * report on stdin/stdout and exits. A native engine speaking the same frames can replace it.
 */
import { once } from "node:events";
import type { GenerateReportOptions, ReportDefinition, ReportFormat, ReportRow } from "@proj/ports";
import { createCsvEngine } from "./csv-engine.js";
import { decodeCell, errorPayload, FRAME, frame, readFrames, type WirePlan } from "./engine-protocol.js";
import type { RenderStats } from "./report-engine.js";
import { planReport } from "./report-plan.js";
import { createXlsxEngine } from "./xlsx-engine.js";

const EXCEL_MAX_ROWS = 1_048_576;

async function send(type: number, payload: Buffer | string): Promise<void> {
  if (!process.stdout.write(frame(type, payload))) await once(process.stdout, "drain");
}

async function serve(): Promise<void> {
  const frames = readFrames(process.stdin);
  const first = await frames.next();
  if (first.done || first.value.type !== FRAME.PLAN) throw new Error("the first frame must be the plan");
  const wire = JSON.parse(first.value.payload.toString("utf8")) as WirePlan;
  if (wire.version !== 1) throw new Error(`protocol version ${String(wire.version)} is not supported`);

  async function* sheetRows(index: number, keys: readonly string[]): AsyncGenerator<ReportRow> {
    for (;;) {
      await send(FRAME.NEED_ROWS, JSON.stringify({ sheet: index }));
      const next = await frames.next();
      if (next.done) throw new Error("stdin closed before the sheet ended");
      if (next.value.type === FRAME.SHEET_END) return;
      if (next.value.type !== FRAME.ROWS) throw new Error(`unexpected frame ${next.value.type}`);
      for (const cells of JSON.parse(next.value.payload.toString("utf8")) as unknown[][]) {
        // No prototype: a key such as `__proto__` or `constructor` is an own property like any other.
        const row: ReportRow = Object.create(null);
        for (let i = 0; i < keys.length; i += 1) row[keys[i]!] = decodeCell(cells[i]);
        yield row;
      }
    }
  }

  const definition: ReportDefinition = {
    title: wire.title,
    sheets: wire.sheets.map((sheet, index) => ({
      name: sheet.name,
      columns: sheet.columns as ReportDefinition["sheets"][number]["columns"],
      rows: sheetRows(
        index,
        sheet.columns.map((column) => column.key),
      ),
    })),
  };
  const format = wire.format as ReportFormat;
  const engine =
    format === "xlsx"
      ? createXlsxEngine({
          compressionLevel: wire.options.compressionLevel ?? 1,
          sharedStrings: wire.options.sharedStrings ?? false,
          maxRowsPerSheet: wire.options.maxRowsPerSheet ?? EXCEL_MAX_ROWS,
        })
      : format === "csv"
        ? createCsvEngine()
        : undefined;
  if (engine === undefined) throw new Error(`format ${JSON.stringify(wire.format)} is not supported`);
  const plan = planReport(definition, engine.maxSheets, format);
  const stats: RenderStats = { rowCount: 0, sheetCount: 0 };
  const request: GenerateReportOptions = { format };
  if (wire.options.bom !== undefined) request.bom = wire.options.bom;
  if (wire.options.delimiter !== undefined) request.delimiter = wire.options.delimiter as ",";
  for await (const chunk of engine.render(plan, stats, request)) await send(FRAME.BYTES, chunk);
  await send(FRAME.DONE, JSON.stringify(stats));
}

serve().then(
  () => {
    process.stdin.destroy();
    process.stdout.end();
  },
  async (error: unknown) => {
    process.exitCode = 1;
    await send(FRAME.ERROR, errorPayload(error)).catch(() => {});
    process.stdin.destroy();
    process.stdout.end();
  },
);
