import {
  type Attributes,
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  propagation,
  type Span,
  SpanKind,
  type TextMapPropagator,
  trace,
} from "@opentelemetry/api";
import {
  checkJobPayload,
  type DeadLetter,
  type EnqueueOptions,
  type EnqueueResult,
  type JobCallOptions,
  type JobDelivery,
  type JobHandler,
  type JobQueue,
  type JobQueueCapabilities,
  type JobWorker,
  type JsonValue,
  type ListDeadLettersOptions,
  type Page,
  utf8ByteLength,
  type WorkOptions,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import {
  type Call,
  type InstrumentOptions,
  type MetricNames,
  type Operation,
  Telemetry,
} from "./telemetry.js";

/** `messaging.system` of a job queue when the `attributes` option names none. */
export const DEFAULT_MESSAGING_SYSTEM = "other_jobs";

/**
 * The key under which an instrumented `enqueue` carries the trace context in the payload it hands
 * the adapter: `{ "__proj_trace_context": { traceparent, … }, "payload": <the user's payload> }`.
 * An instrumented worker takes the envelope off before the handler sees the job.
 */
export const TRACE_CONTEXT_KEY = "__proj_trace_context";

/**
 * Bytes of the adapter's payload limit kept for the envelope: an instrumented queue reports
 * `capabilities.maxPayloadBytes` this much smaller than its adapter's, and refuses a payload over
 * that with `RESOURCE_EXHAUSTED` whether or not a trace is being recorded.
 */
export const ENVELOPE_RESERVE_BYTES = 1024;

/** Room for the carrier inside the reserve, after `{"__proj_trace_context":,"payload":}`. */
const CARRIER_BUDGET = ENVELOPE_RESERVE_BYTES - `{"${TRACE_CONTEXT_KEY}":,"payload":}`.length;

/** Options of `instrumentJobQueue`. */
export interface JobQueueInstrumentOptions extends InstrumentOptions {
  /**
   * How the trace context is written into and read out of job payloads. Default: the global
   * propagator (`propagation` of `@opentelemetry/api`; the Node SDK registers W3C Trace Context
   * and Baggage). With none registered, no context travels and payloads go unwrapped.
   */
  propagator?: TextMapPropagator;
}

const SEND: MetricNames = {
  duration: "messaging.client.operation.duration",
  durationDescription: "Duration of messaging operations initiated by a producer or consumer client.",
};
const PROCESS: MetricNames = {
  duration: "messaging.process.duration",
  durationDescription: "Duration of processing operations.",
};
const SENT_MESSAGES = "messaging.client.sent.messages";
const CONSUMED_MESSAGES = "messaging.client.consumed.messages";

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** What an instrumented `enqueue` hands the adapter when it carries a trace context. */
export interface TraceEnvelope {
  /** The propagator's fields (`traceparent`, `tracestate`…). */
  [TRACE_CONTEXT_KEY]: Record<string, string>;
  /** The payload as the caller gave it. */
  payload: JsonValue;
}

/** Whether `value` has exactly the envelope's shape. */
export function isTraceEnvelope(value: unknown): value is TraceEnvelope {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (!Object.hasOwn(value, TRACE_CONTEXT_KEY) || !Object.hasOwn(value, "payload")) return false;
  if (Object.keys(value).length !== 2) return false;
  const carrier = (value as Record<string, unknown>)[TRACE_CONTEXT_KEY];
  if (typeof carrier !== "object" || carrier === null || Array.isArray(carrier)) return false;
  return Object.values(carrier).every((entry) => typeof entry === "string");
}

/**
 * The carrier, cut down to fit the reserve: whole when it fits, else `traceparent` alone (the
 * parent link matters most; tracestate and baggage are dropped), else nothing.
 */
function fitCarrier(carrier: Record<string, string>): Record<string, string> {
  if (utf8ByteLength(JSON.stringify(carrier)) <= CARRIER_BUDGET) return carrier;
  const { traceparent } = carrier;
  if (typeof traceparent === "string" && utf8ByteLength(JSON.stringify({ traceparent })) <= CARRIER_BUDGET) {
    return { traceparent };
  }
  return {};
}

/**
 * What the adapter is handed: the payload as given, or wrapped with the carrier when there is a
 * context to carry, or when the payload itself looks like an envelope (so the worker, which takes
 * one envelope off, hands it back exactly).
 */
function wrap(payload: JsonValue, carrier: Record<string, string>): JsonValue {
  const fitted = Object.keys(carrier).length === 0 ? carrier : fitCarrier(carrier);
  if (Object.keys(fitted).length === 0 && !isTraceEnvelope(payload)) return payload;
  return { [TRACE_CONTEXT_KEY]: fitted, payload };
}

function unwrap(payload: JsonValue): { payload: JsonValue; carrier: Record<string, string> | undefined } {
  if (isTraceEnvelope(payload)) return { payload: payload.payload, carrier: payload[TRACE_CONTEXT_KEY] };
  return { payload, carrier: undefined };
}

function unwrapDeadLetter(letter: DeadLetter): DeadLetter {
  if (!isTraceEnvelope(letter?.payload)) return letter;
  return { ...letter, payload: letter.payload.payload };
}

interface JobOperations {
  readonly send: Operation;
  readonly process: Operation;
  readonly cancel: Operation;
  readonly listDeadLetters: Operation;
  readonly redrive: Operation;
}

/**
 * Traces and measures a `JobQueue` and carries the trace context from `enqueue` to the handler:
 * `enqueue` is a `PRODUCER` span `send {queue}` that writes the active context into the payload
 * envelope; each delivery is a `CONSUMER` span `process {queue}` whose parent is the producer's
 * span (and linked to it), with the handler running inside it; `cancel`, `listDeadLetters` and
 * `redrive` are `CLIENT` spans. Attributes follow the messaging conventions (`messaging.system`,
 * `messaging.operation.type`, `messaging.destination.name`, `messaging.message.id`); metrics are
 * `messaging.client.operation.duration`, `messaging.process.duration`,
 * `messaging.client.sent.messages` and `messaging.client.consumed.messages`. Handlers and dead
 * letters see the payload exactly as enqueued. Payloads are never recorded.
 */
export function instrumentJobQueue(queue: JobQueue, options: JobQueueInstrumentOptions = {}): JobQueue {
  const telemetry = new Telemetry(options, [SEND, PROCESS]);
  const op = (
    method: string,
    name: string,
    kind: SpanKind,
    duration: string,
    operationType: string | undefined,
  ): Operation =>
    telemetry.operation({
      name,
      kind,
      port: "JobQueue",
      method,
      duration,
      attributes: {
        [ATTR.messagingSystem]: DEFAULT_MESSAGING_SYSTEM,
        [ATTR.messagingOperationName]: name,
        ...(operationType === undefined ? {} : { [ATTR.messagingOperationType]: operationType }),
      },
      metricKeys: [ATTR.messagingSystem, ATTR.messagingOperationName, ATTR.messagingOperationType],
    });
  return new InstrumentedJobQueue(queue, telemetry, options.propagator, {
    send: op("enqueue", "send", SpanKind.PRODUCER, SEND.duration, "send"),
    process: op("work", "process", SpanKind.CONSUMER, PROCESS.duration, "process"),
    cancel: op("cancel", "cancel", SpanKind.CLIENT, SEND.duration, undefined),
    listDeadLetters: op("listDeadLetters", "listDeadLetters", SpanKind.CLIENT, SEND.duration, undefined),
    redrive: op("redrive", "redrive", SpanKind.CLIENT, SEND.duration, undefined),
  });
}

/** `messaging.destination.name` of a queue name the port accepts; anything else is not recorded. */
function destination(queue: unknown): Attributes | undefined {
  return typeof queue === "string" && QUEUE_NAME.test(queue)
    ? { [ATTR.messagingDestinationName]: queue }
    : undefined;
}

function spanName(operation: string, queue: unknown): string {
  return typeof queue === "string" && QUEUE_NAME.test(queue) ? `${operation} ${queue}` : operation;
}

class InstrumentedJobQueue implements JobQueue {
  readonly #inner: JobQueue;
  readonly #t: Telemetry;
  readonly #propagator: TextMapPropagator | undefined;
  readonly #ops: JobOperations;

  constructor(
    inner: JobQueue,
    telemetry: Telemetry,
    propagator: TextMapPropagator | undefined,
    operations: JobOperations,
  ) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#propagator = propagator;
    this.#ops = operations;
  }

  get capabilities(): JobQueueCapabilities {
    const capabilities = this.#inner.capabilities;
    return {
      ...capabilities,
      maxPayloadBytes: Math.max(0, capabilities.maxPayloadBytes - ENVELOPE_RESERVE_BYTES),
    };
  }

  #inject(target: Context): Record<string, string> {
    const carrier: Record<string, string> = {};
    if (this.#propagator === undefined) propagation.inject(target, carrier, defaultTextMapSetter);
    else this.#propagator.inject(target, carrier, defaultTextMapSetter);
    return carrier;
  }

  #extract(carrier: Record<string, string>): Context {
    const base = context.active();
    return this.#propagator === undefined
      ? propagation.extract(base, carrier, defaultTextMapGetter)
      : this.#propagator.extract(base, carrier, defaultTextMapGetter);
  }

  enqueue(queue: string, payload: JsonValue, options?: EnqueueOptions): Promise<EnqueueResult> {
    try {
      // The reserve is kept whether or not this call carries a context: the limit a caller sees
      // is the same in both cases.
      checkJobPayload(payload, this.capabilities.maxPayloadBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    const telemetry = this.#t;
    if (telemetry.passthrough()) return this.#inner.enqueue(queue, wrap(payload, {}), options);
    const attributes = destination(queue);
    const call = telemetry.start(this.#ops.send, spanName("send", queue), attributes, attributes);
    let pending: Promise<EnqueueResult>;
    try {
      const body = wrap(payload, this.#inject(call.context));
      pending = context.with(call.context, () => this.#inner.enqueue(queue, body, options));
    } catch (error) {
      telemetry.end(call, error, true);
      throw error;
    }
    return pending.then(
      (result) => {
        if (typeof result?.id === "string") call.span.setAttribute(ATTR.messagingMessageId, result.id);
        if (typeof result?.duplicate === "boolean")
          call.span.setAttribute(ATTR.jobDuplicate, result.duplicate);
        telemetry
          .counter(SENT_MESSAGES, "Number of messages producer attempted to send to the broker.", "{message}")
          .add(1, { ...this.#ops.send.metricAttributes, ...attributes });
        telemetry.end(call);
        return result;
      },
      (error: unknown) => {
        telemetry.end(call, error, true);
        throw error;
      },
    );
  }

  work<P extends JsonValue = JsonValue>(
    queue: string,
    handler: JobHandler<P>,
    options?: WorkOptions,
  ): JobWorker {
    if (typeof handler !== "function") return this.#inner.work(queue, handler, options);
    return this.#inner.work<JsonValue>(
      queue,
      (delivery) => this.#handle(delivery, handler as unknown as JobHandler<JsonValue>),
      options,
    );
  }

  #handle(delivery: JobDelivery<JsonValue>, handler: JobHandler<JsonValue>): Promise<void> {
    const { payload, carrier } = unwrap(delivery.payload);
    const job: JobDelivery<JsonValue> =
      carrier === undefined
        ? delivery
        : {
            id: delivery.id,
            queue: delivery.queue,
            payload,
            attempt: delivery.attempt,
            maxAttempts: delivery.maxAttempts,
            signal: delivery.signal,
          };
    const telemetry = this.#t;
    if (telemetry.passthrough()) return handler(job);
    let parent = context.active();
    let links: Link[] | undefined;
    if (carrier !== undefined && Object.keys(carrier).length > 0) {
      const extracted = this.#extract(carrier);
      const producer = trace.getSpanContext(extracted);
      if (producer !== undefined && trace.isSpanContextValid(producer)) {
        parent = extracted;
        links = [{ context: producer }];
      }
    }
    const attributes: Attributes = { ...destination(delivery.queue) };
    const metricAttributes: Attributes = { ...attributes };
    if (typeof delivery.id === "string") attributes[ATTR.messagingMessageId] = delivery.id;
    if (typeof delivery.attempt === "number") attributes[ATTR.jobAttempt] = delivery.attempt;
    const call = telemetry.start(
      this.#ops.process,
      spanName("process", delivery.queue),
      attributes,
      metricAttributes,
      parent,
      links,
    );
    telemetry
      .counter(CONSUMED_MESSAGES, "Number of messages that were delivered to the application.", "{message}")
      .add(1, { ...this.#ops.process.metricAttributes, ...metricAttributes });
    return settle(telemetry, call, () => handler(job));
  }

  cancel(id: string, options?: JobCallOptions): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.cancel(id, options);
    return this.#t.run(this.#ops.cancel, () => this.#inner.cancel(id, options));
  }

  async listDeadLetters(queue: string, options?: ListDeadLettersOptions): Promise<Page<DeadLetter>> {
    const telemetry = this.#t;
    const list = () => this.#inner.listDeadLetters(queue, options);
    const page = !telemetry.passthrough()
      ? await telemetry.run(
          this.#ops.listDeadLetters,
          list,
          (span: Span, result: Page<DeadLetter>) => {
            if (Array.isArray(result?.items)) span.setAttribute(ATTR.items, result.items.length);
          },
          spanName("listDeadLetters", queue),
          destination(queue),
          destination(queue),
        )
      : await list();
    if (!Array.isArray(page?.items) || !page.items.some((letter) => isTraceEnvelope(letter?.payload))) {
      return page;
    }
    return { ...page, items: page.items.map(unwrapDeadLetter) };
  }

  redrive(id: string, options?: JobCallOptions): Promise<boolean> {
    if (this.#t.passthrough()) return this.#inner.redrive(id, options);
    return this.#t.run(this.#ops.redrive, () => this.#inner.redrive(id, options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}

/** Runs `work` inside the call's span and ends it when the returned promise settles. */
function settle(telemetry: Telemetry, call: Call, work: () => Promise<void>): Promise<void> {
  let pending: Promise<void>;
  try {
    pending = context.with(call.context, work);
  } catch (error) {
    telemetry.end(call, error, true);
    throw error;
  }
  return Promise.resolve(pending).then(
    () => telemetry.end(call),
    (error: unknown) => {
      telemetry.end(call, error, true);
      throw error;
    },
  );
}
