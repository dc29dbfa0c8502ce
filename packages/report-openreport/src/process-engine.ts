import { spawn } from "node:child_process";
import {
  ERROR_CODES,
  type ErrorCode,
  type GenerateReportOptions,
  InfrastructureError,
  type ReportFormat,
} from "@proj/ports";
import { encodeCell, FRAME, frame, readFrames, type WirePlan } from "./engine-protocol.js";
import { type RenderStats, type ReportEngine, RowCursor } from "./report-engine.js";
import { cellValue, isPlainRow, type ReportPlan } from "./report-plan.js";

/** How to start an engine process that speaks the engine protocol (README "Engine protocol"). */
export interface ProcessEngineCommand {
  format: ReportFormat;
  /** The executable, e.g. `process.execPath` for the reference engine, or a native binary. */
  command: string;
  args?: readonly string[];
  /** Sheets one report may hold; default unlimited for XLSX, 1 for CSV. */
  maxSheets?: number;
  /** Rows sent per batch when the engine asks for more. Default 512. */
  batchRows?: number;
}

/** The generator's settings the engine process receives with the plan. */
export interface ProcessEngineSettings {
  compressionLevel: number;
  sharedStrings: boolean;
  maxRowsPerSheet: number;
}

const STDERR_TAIL = 2_000;
const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * A `ReportEngine` in a child process, one process per report. Rows go to it in batches only when it
 * asks (it asks when it needs them, and stops asking while its stdout is full), bytes come back as
 * they are made, its failures come back as taxonomy codes. Cancelling kills the process.
 */
export function createProcessEngine(
  command: ProcessEngineCommand,
  settings: ProcessEngineSettings,
): ReportEngine {
  const batchRows = command.batchRows ?? 512;
  return {
    format: command.format,
    maxSheets: command.maxSheets ?? (command.format === "csv" ? 1 : Number.POSITIVE_INFINITY),
    render: (plan, stats, request) => renderInProcess(command, settings, batchRows, plan, stats, request),
  };
}

function engineError(format: string, message: string, cause?: unknown): InfrastructureError {
  return new InfrastructureError("INTERNAL", `the ${format} engine process ${message}`, {
    cause,
    retryable: false,
  });
}

async function* renderInProcess(
  command: ProcessEngineCommand,
  settings: ProcessEngineSettings,
  batchRows: number,
  plan: ReportPlan,
  stats: RenderStats,
  request: GenerateReportOptions,
): AsyncGenerator<Buffer> {
  const { signal } = request;
  const child = spawn(command.command, command.args ?? [], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  let spawnFailure: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once("close", (code, exitSignal) => resolve({ code, signal: exitSignal }));
    child.once("error", (error) => {
      spawnFailure = error;
      resolve({ code: null, signal: null });
    });
  });
  // A child that dies makes our writes fail with EPIPE; what happened is told by its frames or exit.
  child.stdin.on("error", () => {});
  const kill = () => child.kill("SIGKILL");
  signal?.addEventListener("abort", kill, { once: true });
  const cursors: (RowCursor | undefined)[] = plan.sheets.map(() => undefined);
  let finished = false;
  try {
    const wire: WirePlan = {
      version: 1,
      format: command.format,
      title: plan.title,
      sheets: plan.sheets.map((sheet) => ({
        name: sheet.name,
        columns: sheet.columns.map(({ header, key, type, width, numberFormat }) => ({
          header,
          key,
          type,
          width,
          numberFormat,
        })),
      })),
      options: { bom: request.bom, delimiter: request.delimiter, ...settings },
    };
    child.stdin.write(frame(FRAME.PLAN, JSON.stringify(wire)));
    for await (const { type, payload } of readFrames(child.stdout)) {
      if (type === FRAME.BYTES) {
        yield payload;
      } else if (type === FRAME.NEED_ROWS) {
        const { sheet: index } = JSON.parse(payload.toString("utf8")) as { sheet: number };
        const sheet = plan.sheets[index];
        if (sheet === undefined) throw engineError(command.format, `asked for the rows of sheet ${index}`);
        cursors[index] ??= new RowCursor(sheet.name, sheet.rows);
        const cursor = cursors[index]!;
        const batch: unknown[][] = [];
        while (batch.length < batchRows) {
          const next = cursor.next();
          const row = next instanceof Promise ? await next : next;
          if (row === undefined) break;
          const plain = isPlainRow(row);
          batch.push(sheet.columns.map((column) => encodeCell(cellValue(row, column, plain))));
        }
        // The report already failed or was cancelled: the process is being killed.
        if (signal?.aborted) return;
        child.stdin.write(
          batch.length === 0 ? frame(FRAME.SHEET_END, "") : frame(FRAME.ROWS, JSON.stringify(batch)),
        );
      } else if (type === FRAME.DONE) {
        const done = JSON.parse(payload.toString("utf8")) as RenderStats;
        stats.rowCount = done.rowCount;
        stats.sheetCount = done.sheetCount;
        finished = true;
        return;
      } else if (type === FRAME.ERROR) {
        const failure = JSON.parse(payload.toString("utf8")) as {
          code: string;
          message: string;
          details?: Record<string, unknown>;
        };
        finished = true;
        if (!KNOWN_CODES.has(failure.code)) {
          throw engineError(
            command.format,
            `failed with an unknown code ${JSON.stringify(failure.code)}: ${failure.message}`,
          );
        }
        throw new InfrastructureError(failure.code as ErrorCode, failure.message, {
          retryable: false,
          details: failure.details ?? {},
        });
      } else {
        throw engineError(command.format, `sent an unknown frame type ${type}`);
      }
    }
    if (signal?.aborted) return;
    const exit = await exited;
    if (spawnFailure !== undefined) throw engineError(command.format, "could not be started", spawnFailure);
    throw engineError(
      command.format,
      `exited (code ${exit.code}, signal ${exit.signal}) before finishing the report${stderr ? `: ${stderr.trim()}` : ""}`,
    );
  } finally {
    signal?.removeEventListener("abort", kill);
    if (!finished) kill();
    child.stdin.end();
    await Promise.all(cursors.map((cursor) => cursor?.close()));
  }
}
