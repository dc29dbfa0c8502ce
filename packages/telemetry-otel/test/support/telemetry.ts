import { type Attributes, context, type Meter, propagation, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

let installed = false;

/**
 * The process-wide pieces an application's SDK would install: a context manager, so the active span
 * follows `await`, and the W3C Trace Context propagator. Idempotent.
 */
export function installContext(): void {
  if (installed) return;
  installed = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** A metric reader the test collects from on demand (no timer). */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Counts started and ended spans, so a test can tell that no span was left open. */
class OpenSpans implements SpanProcessor {
  readonly open = new Set<Span>();
  onStart(span: Span): void {
    this.open.add(span);
  }
  onEnd(span: ReadableSpan): void {
    this.open.delete(span as Span);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export interface MetricPoint {
  name: string;
  attributes: Attributes;
  /** Sum for a counter, count of recordings for a histogram. */
  value: number;
  /** For a histogram: the sum of recorded values. */
  sum?: number;
}

/** An SDK of its own per test file: in-memory span exporter, a metric reader, no globals. */
export class TestTelemetry {
  readonly exporter = new InMemorySpanExporter();
  readonly openSpans = new OpenSpans();
  readonly tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: this.exporter }), this.openSpans],
  });
  readonly reader = new CollectingReader();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly tracer: Tracer = this.tracerProvider.getTracer("test");
  readonly meter: Meter = this.meterProvider.getMeter("test");

  constructor() {
    installContext();
  }

  /** `{ tracer, meter }`, for the options of an `instrument…` call. */
  get options(): { tracer: Tracer; meter: Meter } {
    return { tracer: this.tracer, meter: this.meter };
  }

  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The finished spans named `name`. */
  named(name: string): ReadableSpan[] {
    return this.spans().filter((span) => span.name === name);
  }

  /** The one finished span named `name`; fails when there is not exactly one. */
  one(name: string): ReadableSpan {
    const found = this.named(name);
    if (found.length !== 1) {
      throw new Error(
        `expected one span named ${name}, found ${found.length} among ${this.spans()
          .map((span) => span.name)
          .join(", ")}`,
      );
    }
    return found[0] as ReadableSpan;
  }

  reset(): void {
    this.exporter.reset();
  }

  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw errors[0];
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  }

  /** Every data point of every metric, flattened. */
  async points(): Promise<MetricPoint[]> {
    const points: MetricPoint[] = [];
    for (const metric of await this.metrics()) {
      for (const point of metric.dataPoints as DataPoint<unknown>[]) {
        const value = point.value as number | { count: number; sum?: number };
        points.push(
          typeof value === "number"
            ? { name: metric.descriptor.name, attributes: point.attributes, value }
            : {
                name: metric.descriptor.name,
                attributes: point.attributes,
                value: value.count,
                ...(value.sum === undefined ? {} : { sum: value.sum }),
              },
        );
      }
    }
    return points;
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
  }
}

/**
 * Every string an exported span or metric point carries: names, attribute keys and values, status
 * messages, event names and attributes, link attributes. What a secret must never be found in.
 */
export function exportedText(spans: readonly ReadableSpan[], points: readonly MetricPoint[]): string[] {
  const out: string[] = [];
  const attributes = (values: Attributes | undefined) => {
    for (const [key, value] of Object.entries(values ?? {})) {
      out.push(key);
      if (Array.isArray(value)) for (const item of value) out.push(String(item));
      else if (value !== undefined) out.push(String(value));
    }
  };
  for (const span of spans) {
    out.push(span.name);
    attributes(span.attributes);
    if (span.status.message !== undefined) out.push(span.status.message);
    for (const event of span.events) {
      out.push(event.name);
      attributes(event.attributes);
    }
    for (const link of span.links) attributes(link.attributes);
  }
  for (const point of points) {
    out.push(point.name);
    attributes(point.attributes);
  }
  return out;
}

/** Whether `child` was started as a child of `parent` (same trace, parent's span id). */
export function isChildOf(child: ReadableSpan, parent: ReadableSpan): boolean {
  const of = child.parentSpanContext;
  return (
    of !== undefined &&
    of.spanId === parent.spanContext().spanId &&
    of.traceId === parent.spanContext().traceId
  );
}
