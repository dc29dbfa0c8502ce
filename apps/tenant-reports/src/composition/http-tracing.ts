import {
  type Attributes,
  context,
  type Histogram,
  type Meter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TracedRouteConfig } from "../http/server.js";

/** What the HTTP layer records with when telemetry is on. */
export interface HttpTelemetry {
  tracer: Tracer;
  meter: Meter;
}

interface InFlight {
  span: Span;
  started: number;
  attributes: Attributes;
}

/** The semantic conventions' advisory boundaries for `http.server.request.duration`, in seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * One `SERVER` span per request, named and attributed by the HTTP semantic conventions
 * (`POST /reports`, `http.route`, `http.response.status_code`…), child of the caller's
 * `traceparent` when it sends one, and a point of `http.server.request.duration` when it ends.
 *
 * Hooks rather than `@opentelemetry/instrumentation-http`: the instrumentation patches `node:http`
 * through a module hook, which under ESM needs a loader registered (`--import`) before Fastify is
 * first imported; hooks work however the process was started, and cost nothing when telemetry is
 * off because they are not registered. The span is made current for the rest of the request with
 * `context.with` around the hook's `done`: Fastify runs the later hooks and the handler from there,
 * and carries the context across the body's parsing itself (an `AsyncResource` per request), so a
 * body that arrives after the headers keeps it too (a test sends one late).
 *
 * `url.path` and `url.query` are not recorded: they carry tenant and report ids, which no span of
 * this service records; `http.route` is the template.
 */
export function traceRequests(app: FastifyInstance, { tracer, meter }: HttpTelemetry): void {
  const inFlight = new WeakMap<FastifyRequest, InFlight>();
  let duration: Histogram | undefined;

  app.addHook("onRequest", (request, reply, done) => {
    if ((request.routeOptions.config as TracedRouteConfig | undefined)?.traced === false) return done();
    const route = request.routeOptions.url;
    const attributes: Attributes = {
      "http.request.method": request.method,
      "url.scheme": request.protocol,
      ...(route === undefined ? {} : { "http.route": route }),
    };
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          ...attributes,
          "server.address": request.hostname,
          ...(request.port ? { "server.port": request.port } : {}),
          "network.protocol.version": request.raw.httpVersion,
          ...(request.headers["user-agent"] ? { "user_agent.original": request.headers["user-agent"] } : {}),
        },
      },
      parent,
    );
    inFlight.set(request, { span, started: performance.now(), attributes });
    const spanContext = span.spanContext();
    if (trace.isSpanContextValid(spanContext)) {
      // Every line logged for this request from here on names its trace (the OpenTelemetry log
      // data model's field names). Fastify's own "request completed" line is written by reply.log.
      request.log = request.log.child({
        trace_id: spanContext.traceId,
        span_id: spanContext.spanId,
        trace_flags: `0${spanContext.traceFlags.toString(16)}`,
      });
      reply.log = request.log;
    }
    context.with(trace.setSpan(parent, span), done);
  });

  /** Ends the request's span with its status code, or as aborted when the client went away. */
  const end = (request: FastifyRequest, status: number | undefined) => {
    const call = inFlight.get(request);
    if (call === undefined) return;
    inFlight.delete(request);
    const attributes: Attributes = { ...call.attributes };
    if (status === undefined) attributes["error.type"] = "aborted";
    else {
      attributes["http.response.status_code"] = status;
      if (status >= 500) attributes["error.type"] = String(status);
    }
    call.span.setAttributes(attributes);
    // A 4xx is the client's error, not the server's (the conventions leave a server span unset).
    if (attributes["error.type"] !== undefined) call.span.setStatus({ code: SpanStatusCode.ERROR });
    call.span.end();
    duration ??= meter.createHistogram("http.server.request.duration", {
      description: "Duration of HTTP server requests.",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    duration.record((performance.now() - call.started) / 1000, attributes);
  };
  app.addHook("onResponse", (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook("onRequestAbort", (request, done) => {
    // The connection is gone: no onResponse comes.
    end(request, undefined);
    done();
  });
}
