import type { Writable } from "node:stream";
import { type Attributes, type Span, SpanKind } from "@opentelemetry/api";
import type {
  GenerateReportOptions,
  ReportDefinition,
  ReportGenerator,
  ReportGeneratorCapabilities,
  ReportResult,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { PORT_DURATION, portOperation } from "./generic.js";
import { type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

const FORMATS: readonly string[] = ["xlsx", "csv"];

const counted = (span: Span, result: ReportResult) => {
  if (typeof result?.rowCount === "number") span.setAttribute(ATTR.reportRows, result.rowCount);
  if (typeof result?.byteSize === "number") span.setAttribute(ATTR.bytes, result.byteSize);
  if (typeof result?.sheetCount === "number") span.setAttribute(ATTR.reportSheets, result.sheetCount);
};

/**
 * Traces and measures `ReportGenerator.generate`: one `INTERNAL` span from the call until the
 * report has been written and its output ended (the promise settles then, by the port's
 * contract), with `proj.report.format`, `proj.report.rows`, `proj.bytes` and
 * `proj.report.sheets`, and `error.type` on failure. The rows are pulled inside the span, so a
 * row source that queries a decorated database nests its spans under it. Cells, titles and sheet
 * names are never recorded.
 */
export function instrumentReportGenerator(
  generator: ReportGenerator,
  options: InstrumentOptions = {},
): ReportGenerator {
  const telemetry = new Telemetry(options, [PORT_DURATION]);
  return new InstrumentedReportGenerator(
    generator,
    telemetry,
    portOperation(telemetry, "ReportGenerator", "generate", SpanKind.INTERNAL),
  );
}

class InstrumentedReportGenerator implements ReportGenerator {
  readonly #inner: ReportGenerator;
  readonly #t: Telemetry;
  readonly #generate: Operation;
  readonly #formats = new Map<string, Attributes>();

  constructor(inner: ReportGenerator, telemetry: Telemetry, generate: Operation) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#generate = generate;
    for (const format of FORMATS) this.#formats.set(format, { [ATTR.reportFormat]: format });
  }

  get capabilities(): ReportGeneratorCapabilities {
    return this.#inner.capabilities;
  }

  generate(
    definition: ReportDefinition,
    output: Writable,
    options: GenerateReportOptions,
  ): Promise<ReportResult> {
    if (this.#t.passthrough()) return this.#inner.generate(definition, output, options);
    // Only a format the port knows labels the span and the metric: anything else is user input.
    const format = this.#formats.get(typeof options?.format === "string" ? options.format : "");
    return this.#t.run(
      this.#generate,
      () => this.#inner.generate(definition, output, options),
      counted,
      undefined,
      format,
      format,
    );
  }
}
