import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Counter,
  context,
  type Histogram,
  type Link,
  type Meter,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { isInfrastructureError, UnauthenticatedError } from "@proj/ports";
import { ATTR } from "./attributes.js";

/** The instrumentation scope every tracer and meter of this package is obtained under. */
export const INSTRUMENTATION_SCOPE = "@proj/telemetry-otel";

/** Options every `instrument…` function takes. */
export interface InstrumentOptions {
  /**
   * The tracer to record spans with. Absent: the global tracer provider's, looked up under
   * `INSTRUMENTATION_SCOPE` once one is registered (see "No SDK, no cost" in the README).
   */
  tracer?: Tracer;
  /**
   * The meter to record the duration histograms and error counters with. Absent: the global
   * meter provider's, taken at the first call the decorator records (register the SDK's meter
   * provider before that; instruments taken from the no-op provider stay no-ops).
   */
  meter?: Meter;
  /**
   * Added to every span and every metric point of this decorator: `db.system.name`,
   * `db.namespace`, `server.address`, `messaging.system`, a component name. They replace the
   * decorator's defaults of the same name. Keep them low-cardinality: they label metrics.
   */
  attributes?: Attributes;
  /**
   * Also record the error message (span status description and an `exception` event with the
   * stack). Default false: messages may name keys, paths or backend details, so by default only
   * the taxonomy code (`error.type`) leaves the process.
   */
  recordErrorMessages?: boolean;
}

/** Semantic-convention bucket boundaries for operation durations in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** Counters and histograms of one metric family, created on first use. */
export interface MetricNames {
  /** Histogram of operation durations in seconds. */
  readonly duration: string;
  readonly durationDescription: string;
}

/** Error counter shared by every port: one point per failed operation. */
export const ERROR_COUNTER = "proj.operation.errors";

/**
 * One kind of call of one port (`Cache.get`, `SqlDatabase.query`): what its span is named, of
 * which kind, and the attributes known before the call. Built once per decorator.
 */
export interface Operation {
  /** Span name when the call supplies none. */
  readonly name: string;
  readonly kind: SpanKind;
  /** Span attributes set at start (port, method, system, user attributes). */
  readonly attributes: Attributes;
  /** Attributes of the metric points: the low-cardinality subset. */
  readonly metricAttributes: Attributes;
  /** Histogram to record the duration in. */
  readonly duration: string;
}

/** One call in flight: its span, when it started, and what the metric points will carry. */
export interface Call {
  readonly span: Span;
  readonly context: Context;
  readonly operation: Operation;
  readonly started: number;
  /** Extra metric attributes of this call (`db.collection.name`, `db.query.summary`). */
  metricAttributes: Attributes | undefined;
  ended: boolean;
}

/** The API's proxy tracer provider, as far as the gate needs it. */
export interface Gate {
  getDelegate(): unknown;
}

interface DelegatingProvider extends Gate {
  getDelegateTracer(name: string): Tracer | undefined;
}

function isDelegating(provider: unknown): provider is DelegatingProvider {
  return (
    typeof provider === "object" &&
    provider !== null &&
    typeof (provider as DelegatingProvider).getDelegate === "function" &&
    typeof (provider as DelegatingProvider).getDelegateTracer === "function"
  );
}

/** The gate of a decorator that records from its first call: its delegate is never `NEVER_OFF`. */
const ALWAYS_ON: Gate = { getDelegate: () => ALWAYS_ON };
const NEVER_OFF: unique symbol = Symbol("never off");

/** The `error.type` of a failure: the taxonomy code, else the error's class name, else `_OTHER`. */
export function errorType(error: unknown): string {
  if (isInfrastructureError(error)) return error.code;
  if (error instanceof Error) {
    const name = error.constructor?.name;
    return typeof name === "string" && name !== "" ? name : "_OTHER";
  }
  return "_OTHER";
}

/**
 * What one decorator records with: resolves the tracer and meter, and stays out of the way (one
 * field read and one method call per operation) while no SDK is registered and none was given.
 */
export class Telemetry {
  tracer: Tracer | undefined;
  meter: Meter | undefined;
  readonly userAttributes: Attributes;
  readonly recordErrorMessages: boolean;
  /**
   * While no SDK is registered, `gate.getDelegate() === off`: the API's proxy tracer provider and
   * the no-op delegate it returns until the SDK sets its own. A decorator asks on every call (a
   * field load and an inlined method call); the cache decorator copies both into its own fields.
   */
  readonly gate: Gate;
  readonly off: unknown;
  readonly #histograms = new Map<string, Histogram>();
  readonly #descriptions = new Map<string, string>();
  #errors: Counter | undefined;
  readonly #counters = new Map<string, Counter>();

  constructor(options: InstrumentOptions = {}, families: readonly MetricNames[] = []) {
    this.userAttributes = options.attributes ?? {};
    this.recordErrorMessages = options.recordErrorMessages === true;
    for (const family of families) this.#descriptions.set(family.duration, family.durationDescription);
    this.tracer = options.tracer;
    this.meter = options.meter;
    const provider: unknown = trace.getTracerProvider();
    if (
      options.tracer === undefined &&
      options.meter === undefined &&
      isDelegating(provider) &&
      provider.getDelegateTracer(INSTRUMENTATION_SCOPE) === undefined
    ) {
      // No SDK yet: calls pass straight through until the proxy has a delegate.
      this.gate = provider;
      this.off = provider.getDelegate();
    } else {
      this.gate = ALWAYS_ON;
      this.off = NEVER_OFF;
    }
  }

  /** True while no SDK is registered and none was given: the call goes straight to the adapter. */
  passthrough(): boolean {
    return this.gate.getDelegate() === this.off;
  }

  /** The tracer given, else the global provider's, taken at the first recording. */
  #tracer(): Tracer {
    this.tracer ??= trace.getTracer(INSTRUMENTATION_SCOPE);
    return this.tracer;
  }

  /** The meter given, else the global provider's, taken at the first recording. */
  #meter(): Meter {
    this.meter ??= metrics.getMeter(INSTRUMENTATION_SCOPE);
    return this.meter;
  }

  histogram(name: string): Histogram {
    let histogram = this.#histograms.get(name);
    if (histogram === undefined) {
      histogram = this.#meter().createHistogram(name, {
        description: this.#descriptions.get(name) ?? "",
        unit: "s",
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
      this.#histograms.set(name, histogram);
    }
    return histogram;
  }

  errorCounter(): Counter {
    if (this.#errors === undefined) {
      this.#errors = this.#meter().createCounter(ERROR_COUNTER, {
        description: "Operations of @proj ports that failed, by port, method and error.type.",
        unit: "{error}",
      });
    }
    return this.#errors;
  }

  /** A counter of this decorator's meter, created on first use. */
  counter(name: string, description: string, unit: string): Counter {
    let counter = this.#counters.get(name);
    if (counter === undefined) {
      counter = this.#meter().createCounter(name, { description, unit });
      this.#counters.set(name, counter);
    }
    return counter;
  }

  /**
   * An operation with its static attributes: the decorator's defaults, then the user's (which win),
   * then the port and method.
   */
  operation(spec: {
    name: string;
    kind: SpanKind;
    port: string;
    method: string;
    duration: string;
    attributes?: Attributes;
    /** Keys of `attributes` (and of the user's) that also label metric points. */
    metricKeys?: readonly string[];
  }): Operation {
    const attributes: Attributes = {
      ...spec.attributes,
      ...this.userAttributes,
      [ATTR.port]: spec.port,
      [ATTR.method]: spec.method,
    };
    const metricAttributes: Attributes = { ...this.userAttributes };
    for (const key of spec.metricKeys ?? []) {
      const value = attributes[key];
      if (value !== undefined) metricAttributes[key] = value;
    }
    metricAttributes[ATTR.port] = spec.port;
    metricAttributes[ATTR.method] = spec.method;
    return { name: spec.name, kind: spec.kind, attributes, metricAttributes, duration: spec.duration };
  }

  /** Starts the span of one call, as a child of the active context (or of `parent`). */
  start(
    operation: Operation,
    name: string = operation.name,
    attributes?: Attributes,
    metricAttributes?: Attributes,
    parent: Context = context.active(),
    links?: Link[],
  ): Call {
    const span = this.#tracer().startSpan(
      name,
      {
        kind: operation.kind,
        attributes:
          attributes === undefined ? operation.attributes : { ...operation.attributes, ...attributes },
        ...(links === undefined ? {} : { links }),
      },
      parent,
    );
    return {
      span,
      context: trace.setSpan(parent, span),
      operation,
      started: performance.now(),
      metricAttributes,
      ended: false,
    };
  }

  /** Ends the call's span and records its metric points; a second end does nothing. */
  end(call: Call, error?: unknown, failed = error !== undefined): void {
    if (call.ended) return;
    call.ended = true;
    const seconds = (performance.now() - call.started) / 1000;
    const { span, operation } = call;
    let points: Attributes =
      call.metricAttributes === undefined
        ? operation.metricAttributes
        : { ...operation.metricAttributes, ...call.metricAttributes };
    if (failed) {
      const type = errorType(error);
      span.setAttribute(ATTR.errorType, type);
      const sqlState = isInfrastructureError(error) ? error.details.sqlState : undefined;
      if (typeof sqlState === "string") span.setAttribute(ATTR.dbResponseStatusCode, sqlState);
      const reason = UnauthenticatedError.isInstance(error) ? error.reason : undefined;
      if (reason !== undefined) span.setAttribute(ATTR.tokenFailureReason, reason);
      if (this.recordErrorMessages && error instanceof Error) {
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      } else {
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      points =
        reason === undefined
          ? { ...points, [ATTR.errorType]: type }
          : { ...points, [ATTR.errorType]: type, [ATTR.tokenFailureReason]: reason };
      this.errorCounter().add(1, points);
    }
    span.end();
    this.histogram(operation.duration).record(seconds, points);
  }

  /**
   * Runs `work` in a span of its own: the span is the active one inside `work` (so what `work`
   * calls nests under it), ends when the returned promise settles, and `onResult` may add
   * attributes from the result first. A synchronous throw stays synchronous.
   */
  run<T>(
    operation: Operation,
    work: () => Promise<T>,
    onResult?: (span: Span, result: T, call: Call) => void,
    name?: string,
    attributes?: Attributes,
    metricAttributes?: Attributes,
  ): Promise<T> {
    const call = this.start(operation, name, attributes, metricAttributes);
    let pending: Promise<T>;
    try {
      pending = context.with(call.context, work);
    } catch (error) {
      this.end(call, error, true);
      throw error;
    }
    return pending.then(
      (result) => {
        if (onResult !== undefined) safely(() => onResult(call.span, result, call));
        this.end(call);
        return result;
      },
      (error: unknown) => {
        this.end(call, error, true);
        throw error;
      },
    );
  }
}

/**
 * Runs a piece of bookkeeping that must never change the outcome of the user's call: a result of
 * an unexpected shape (a third-party adapter's) loses an attribute, not the call.
 */
export function safely(bookkeeping: () => void): void {
  try {
    bookkeeping();
  } catch {
    // The call's own outcome stands; a missing attribute is the only cost.
  }
}

/** Sets `key` on the span when `value` is defined. */
export function setIfDefined(span: Span, key: string, value: AttributeValue | undefined): void {
  if (value !== undefined) span.setAttribute(key, value);
}

export { SpanKind };
