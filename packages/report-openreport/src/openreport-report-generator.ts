import type { Writable } from "node:stream";
import {
  cancelledError,
  type GenerateReportOptions,
  InfrastructureError,
  type ReportDefinition,
  type ReportFormat,
  type ReportGenerator,
  type ReportGeneratorCapabilities,
  type ReportResult,
} from "@proj/ports";
import { CSV_DELIMITERS, createCsvEngine } from "./csv-engine.js";
import { mapOpenReportError } from "./map-openreport-error.js";
import { createProcessEngine, type ProcessEngineCommand } from "./process-engine.js";
import type { RenderStats, ReportEngine } from "./report-engine.js";
import { planReport } from "./report-plan.js";
import { writeAll } from "./write-output.js";
import { createXlsxEngine, TITLED_HEADER_ROW } from "./xlsx-engine.js";

export interface OpenReportGeneratorOptions {
  /** Formats to offer; default both `xlsx` and `csv`. */
  formats?: readonly ReportFormat[];
  /**
   * zlib level for the XLSX parts, 0 (stored) to 9. Default 1: the fastest level, and the one
   * exceljs effectively uses; higher levels save 10–25 % of the file at two to four times the CPU.
   */
  compressionLevel?: number;
  /**
   * Write XLSX text through the shared-string table. Smaller files when text repeats, but the table
   * lives in memory until the end, so memory grows with the number of distinct strings. Default false.
   */
  sharedStrings?: boolean;
  /**
   * Engines that run in a child process and speak the engine protocol (README "Engine protocol"),
   * replacing the built-in engine of their format: this package's own (`node dist/engine-child.js`,
   * the reference) or a native one.
   */
  processEngines?: readonly ProcessEngineCommand[];
}

/**
 * Options only this package's tests use: a sheet row limit small enough to exercise rollover, and
 * the engine seam.
 * @internal
 */
export interface OpenReportGeneratorInternalOptions extends OpenReportGeneratorOptions {
  /** Rows per XLSX sheet, title and header included. Default 1,048,576 (Excel's limit). */
  maxRowsPerSheet?: number;
  /** Engines replacing the built-in ones for their formats. */
  engines?: readonly ReportEngine[];
  /** Write ZIP64 records even when nothing needs them, to check their layout on a small file. */
  forceZip64?: boolean;
}

/** Excel's rows per sheet. */
const EXCEL_MAX_ROWS = 1_048_576;

function badOption(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

const GENERATE_OPTIONS: ReadonlySet<string> = new Set(["format", "bom", "delimiter", "signal"]);
const PUBLIC_OPTIONS = ["formats", "compressionLevel", "sharedStrings", "processEngines"] as const;
const INTERNAL_OPTIONS: ReadonlySet<string> = new Set([
  ...PUBLIC_OPTIONS,
  "maxRowsPerSheet",
  "engines",
  "forceZip64",
]);

/** A misspelt option (`delimeter`) silently ignored would write a report other than the one asked for. */
function refuseUnknownKeys(options: object, known: ReadonlySet<string>, what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw badOption(`unknown ${what} "${key}" (known: ${[...known].join(", ")})`);
  }
}

function checkGenerateOptions(options: GenerateReportOptions): void {
  if (options === null || typeof options !== "object") throw badOption("generate needs an options object");
  refuseUnknownKeys(options, GENERATE_OPTIONS, "generate option");
  if (options.bom !== undefined && typeof options.bom !== "boolean") throw badOption("bom must be a boolean");
  if (options.delimiter !== undefined && !CSV_DELIMITERS.has(options.delimiter)) {
    throw badOption(`delimiter must be ",", ";" or a tab, got ${JSON.stringify(options.delimiter)}`);
  }
}

function ignoreOutputError(): void {}

/**
 * Destroys the output of a failed report. The caller learns why from our rejection; the output may
 * still report its interrupted writes (`ERR_STREAM_DESTROYED`) or a late `open` failure, and on a
 * stream nobody else listens to for `error` that would crash the process. So the output keeps one
 * listener of ours for good: after a failed report nothing it says can change the outcome.
 */
function discardOutput(output: Writable): void {
  if (!output.listeners("error").includes(ignoreOutputError)) output.on("error", ignoreOutputError);
  if (!output.destroyed) output.destroy();
}

class OpenReportGenerator implements ReportGenerator {
  readonly capabilities: ReportGeneratorCapabilities;
  private readonly engines: ReadonlyMap<string, ReportEngine>;

  constructor(engines: readonly ReportEngine[]) {
    this.engines = new Map(engines.map((engine) => [engine.format, engine]));
    this.capabilities = { formats: [...this.engines.keys()] as ReportFormat[] };
  }

  async generate(
    definition: ReportDefinition,
    output: Writable,
    options: GenerateReportOptions,
  ): Promise<ReportResult> {
    const format = options?.format;
    const what = `${String(format)} report`;
    const signal = options?.signal;
    // Fires on the caller's abort and on any failure, so the engine stops and releases the rows at
    // once instead of at its next chunk.
    const stop = new AbortController();
    const forwardAbort = () => stop.abort(signal?.reason);
    signal?.addEventListener("abort", forwardAbort, { once: true });
    try {
      checkGenerateOptions(options);
      if (signal?.aborted) throw cancelledError(signal, `writing the ${what}`);
      const engine = this.engines.get(format);
      if (engine === undefined) {
        throw new InfrastructureError(
          "NOT_SUPPORTED",
          `report format "${String(format)}" is not supported (supported: ${this.capabilities.formats.join(", ")})`,
          { retryable: false },
        );
      }
      const plan = planReport(definition, engine.maxSheets, engine.format);
      const stats: RenderStats = { rowCount: 0, sheetCount: 0 };
      const rendered = engine.render(plan, stats, { ...options, signal: stop.signal });
      const byteSize = await writeAll(rendered, output, signal, what);
      return { rowCount: stats.rowCount, byteSize, sheetCount: stats.sheetCount };
    } catch (error) {
      stop.abort(error);
      discardOutput(output);
      throw mapOpenReportError(error, { what, signal });
    } finally {
      signal?.removeEventListener("abort", forwardAbort);
    }
  }
}

/** Creates a generator with this package's options plus the internal ones; the tests' entry point. */
export function createOpenReportGeneratorWith(
  options: OpenReportGeneratorInternalOptions = {},
): ReportGenerator {
  refuseUnknownKeys(options, INTERNAL_OPTIONS, "option");
  const compressionLevel = options.compressionLevel ?? 1;
  if (!Number.isInteger(compressionLevel) || compressionLevel < 0 || compressionLevel > 9) {
    throw badOption(`compressionLevel must be an integer from 0 to 9, got ${compressionLevel}`);
  }
  const maxRowsPerSheet = options.maxRowsPerSheet ?? EXCEL_MAX_ROWS;
  if (
    !Number.isInteger(maxRowsPerSheet) ||
    maxRowsPerSheet <= TITLED_HEADER_ROW ||
    maxRowsPerSheet > EXCEL_MAX_ROWS
  ) {
    throw badOption(`maxRowsPerSheet must be an integer from ${TITLED_HEADER_ROW + 1} to ${EXCEL_MAX_ROWS}`);
  }
  const builtIn = [
    createXlsxEngine({
      compressionLevel,
      sharedStrings: options.sharedStrings ?? false,
      maxRowsPerSheet,
      forceZip64: options.forceZip64 ?? false,
    }),
    createCsvEngine(),
  ];
  const engines = new Map(builtIn.map((engine) => [engine.format, engine]));
  const settings = { compressionLevel, sharedStrings: options.sharedStrings ?? false, maxRowsPerSheet };
  for (const command of options.processEngines ?? []) {
    if (typeof command?.command !== "string" || !command.command) {
      throw badOption("each processEngines entry needs a command");
    }
    engines.set(command.format, createProcessEngine(command, settings));
  }
  for (const engine of options.engines ?? []) engines.set(engine.format, engine);
  const formats = options.formats ?? [...engines.keys()];
  for (const format of formats) {
    if (!engines.has(format)) throw badOption(`no engine writes the format "${format}"`);
  }
  return new OpenReportGenerator(formats.map((format) => engines.get(format)!));
}

/** A `ReportGenerator` that streams XLSX and CSV in bounded memory. */
export function createOpenReportGenerator(options: OpenReportGeneratorOptions = {}): ReportGenerator {
  refuseUnknownKeys(options, new Set(PUBLIC_OPTIONS), "option");
  const { formats, compressionLevel, sharedStrings, processEngines } = options;
  return createOpenReportGeneratorWith({ formats, compressionLevel, sharedStrings, processEngines });
}
