import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposedService, composeService } from "../src/composition/compose.js";
import { loadConfig } from "../src/composition/config.js";
import { type Caller, caller, json, type ReportStatusBody, settledReport } from "./e2e/http-suite.js";

/** Fastify's JSON log lines, as written to the stream the service was given. */
function logCapture() {
  const lines: Record<string, unknown>[] = [];
  let partial = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const parts = (partial + chunk.toString()).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) if (line.trim() !== "") lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, stream };
}

/** Every string a span exports: name, attribute names and values, status, events, links. */
function exportedText(spans: readonly ReadableSpan[]): string {
  return spans
    .map((span) =>
      JSON.stringify({
        name: span.name,
        attributes: span.attributes,
        status: span.status,
        events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
        links: span.links.map((link) => link.attributes ?? {}),
      }),
    )
    .join("\n");
}

/** One Prometheus sample line: `name{a="1",b="2"} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key as string] = value as string;
    out.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return out;
}

describe("tenant-reports with telemetry off (nothing configured)", () => {
  let dataDir: string;
  let service: ComposedService;
  const log = logCapture();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-otel-off-"));
    service = await composeService(loadConfig({ DATA_DIR: dataDir, LOG_REQUESTS: "true" }), {
      logStream: log.stream,
    });
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts no SDK, serves no /metrics (404) and logs no trace ids", async () => {
    expect(service.telemetry).toBeUndefined();
    expect(service.description).toMatch(/telemetry=off/);
    const base = await service.http.listen({ host: "127.0.0.1", port: 0 });
    // As any unknown route: 404 to an authenticated caller (401 without a token).
    const issuer = service.devIssuer;
    if (issuer === undefined) throw new Error("the test runs in development token mode");
    const admin = caller(base, await issuer.issue({ subject: "otel-off-admin", roles: ["admin"] }));
    expect(await json(await admin("GET", "/metrics"), 404)).toMatchObject({ error: "NOT_FOUND" });
    expect(log.lines.some((line) => line.msg === "request completed")).toBe(true);
    expect(log.lines.filter((line) => "trace_id" in line || "span_id" in line)).toEqual([]);
  });
});

describe("tenant-reports with METRICS=prometheus alone", () => {
  let dataDir: string;
  let service: ComposedService;
  const log = logCapture();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-otel-metrics-"));
    service = await composeService(
      loadConfig({ DATA_DIR: dataDir, METRICS: "prometheus", LOG_REQUESTS: "true" }),
      { logStream: log.stream },
    );
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("records the decorators' and the routes' metrics with no tracer provider, and logs no trace ids", async () => {
    expect(service.description).toMatch(/telemetry=metrics:prometheus/);
    const base = await service.http.listen({ host: "127.0.0.1", port: 0 });
    const issuer = service.devIssuer;
    if (issuer === undefined) throw new Error("the test runs in development token mode");
    const admin = caller(base, await issuer.issue({ subject: "otel-metrics-admin", roles: ["admin"] }));
    await json(
      await admin("POST", "/tenants", { slug: "metrics-only", name: "Metrics Only", plan: "pro" }),
      201,
    );
    const all = samples(await (await caller(base, undefined)("GET", "/metrics")).text());
    const has = (name: string, labels: Record<string, string>) =>
      all.some(
        (sample) =>
          sample.name === name &&
          sample.value > 0 &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
    expect(
      has("http_server_request_duration_count", { http_route: "/tenants", http_response_status_code: "201" }),
    ).toBe(true);
    expect(
      has("db_client_operation_duration_count", {
        db_operation_name: "INSERT",
        db_collection_name: "tenants",
      }),
    ).toBe(true);
    expect(
      has("proj_operation_duration_count", { proj_port: "TenantRepository", proj_method: "create" }),
    ).toBe(true);
    expect(log.lines.some((line) => line.msg === "request completed")).toBe(true);
    expect(log.lines.filter((line) => "trace_id" in line)).toEqual([]);
  });
});

describe("tenant-reports with traces (OTEL_TRACES_EXPORTER) and METRICS=prometheus", () => {
  const exporter = new InMemorySpanExporter();
  const log = logCapture();
  let dataDir: string;
  let service: ComposedService;
  let base: string;
  let adminToken: string;
  let tenantToken: string;
  let asTenant: Caller;
  let tenant: { id: string; slug: string; name: string };
  let report: ReportStatusBody;
  let route: ReadableSpan;
  const ORDERS = 25;

  /** The job's span ends when its handler has returned, just after the report is marked done. */
  async function jobSpanEnded(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!exporter.getFinishedSpans().some((span) => span.name === "process reports")) {
      if (Date.now() > deadline) throw new Error("the job's span never ended");
      await sleep(10);
    }
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-otel-"));
    service = await composeService(
      loadConfig({
        DATA_DIR: dataDir,
        OTEL_TRACES_EXPORTER: "otlp",
        METRICS: "prometheus",
        LOG_REQUESTS: "true",
      }),
      {
        // In place of the OTLP exporter the variable names: what the test reads the trace from.
        telemetry: { spanProcessors: [new SimpleSpanProcessor({ exporter })] },
        logStream: log.stream,
      },
    );
    base = await service.http.listen({ host: "127.0.0.1", port: 0 });
    const issuer = service.devIssuer;
    if (issuer === undefined) throw new Error("the test runs in development token mode");
    adminToken = await issuer.issue({ subject: "otel-admin", roles: ["admin"] });
    const admin = caller(base, adminToken);
    tenant = await json(
      await admin("POST", "/tenants", { slug: "otel-secret-slug", name: "Otel Secret Name", plan: "pro" }),
      201,
    );
    tenantToken = await issuer.issue({ subject: "otel-user", tenantId: tenant.id });
    asTenant = caller(base, tenantToken);
    expect(await json(await asTenant("POST", "/orders/sample", { count: ORDERS }), 201)).toEqual({
      added: ORDERS,
    });
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("shows one trace from POST /reports through SQL, the job, the report generator and the storage upload", async () => {
    expect(service.description).toMatch(/telemetry=traces\+metrics:prometheus/);
    exporter.reset();
    report = await json<ReportStatusBody>(await asTenant("POST", "/reports", { format: "csv" }), 202);
    expect(await settledReport(asTenant, report.id)).toMatchObject({ status: "done", rowCount: ORDERS });
    report = await settledReport(asTenant, report.id);
    await jobSpanEnded();
    const spans = exporter.getFinishedSpans();
    route = spans.find((span) => span.name === "POST /reports") as ReadableSpan;
    expect(route).toBeDefined();
    expect(route.kind).toBe(SpanKind.SERVER);
    expect(route.parentSpanContext).toBeUndefined();
    expect(route.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/reports",
      "http.response.status_code": 202,
      "url.scheme": "http",
      "network.protocol.version": "1.1",
    });
    const traceId = route.spanContext().traceId;
    const inTrace = spans.filter((span) => span.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((span) => [span.spanContext().spanId, span]));
    const ancestors = (span: ReadableSpan): string[] => {
      const chain: string[] = [];
      for (let id = span.parentSpanContext?.spanId; id !== undefined; ) {
        chain.push(id);
        id = byId.get(id)?.parentSpanContext?.spanId;
      }
      return chain;
    };
    const under = (span: ReadableSpan | undefined, parent: ReadableSpan) =>
      span !== undefined && ancestors(span).includes(parent.spanContext().spanId);
    // Every span of the trace hangs from the route's span: one tree, no orphan.
    for (const span of inTrace) if (span !== route) expect(under(span, route), span.name).toBe(true);

    const decode = inTrace.find((span) => span.name === "TokenDecoder.decode");
    expect(decode?.parentSpanContext?.spanId).toBe(route.spanContext().spanId);
    const send = inTrace.find((span) => span.name === "send reports");
    const process = inTrace.find((span) => span.name === "process reports");
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(process?.kind).toBe(SpanKind.CONSUMER);
    expect(under(process, send as ReadableSpan)).toBe(true);
    expect(process?.links.map((link) => link.context.spanId)).toEqual([send?.spanContext().spanId]);
    expect(send?.attributes).toMatchObject({
      "messaging.operation.type": "send",
      "messaging.destination.name": "reports",
    });
    expect(process?.attributes).toMatchObject({
      "messaging.operation.type": "process",
      "messaging.destination.name": "reports",
      "proj.job.attempt": 1,
    });

    const sqlSpans = inTrace.filter((span) => span.attributes["db.system.name"] === "postgresql");
    for (const span of sqlSpans) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes["db.operation.name"], span.name).toBeTypeOf("string");
    }
    // The route records the report (INSERT reports); the job streams the orders (SELECT orders).
    const recorded = sqlSpans.find(
      (span) =>
        span.attributes["db.query.summary"] === "INSERT reports" && !under(span, send as ReadableSpan),
    );
    expect(recorded, sqlSpans.map((span) => span.name).join(", ")).toBeDefined();
    const read = sqlSpans.filter(
      (span) =>
        under(span, process as ReadableSpan) &&
        String(span.attributes["db.query.summary"]).startsWith("SELECT") &&
        span.attributes["db.collection.name"] === "orders",
    );
    expect(read.length, sqlSpans.map((span) => span.name).join(", ")).toBeGreaterThan(0);
    expect(
      read.reduce((rows, span) => rows + Number(span.attributes["db.response.returned_rows"] ?? 0), 0),
    ).toBe(ORDERS);

    const generate = inTrace.find((span) => span.name === "ReportGenerator.generate");
    expect(under(generate, process as ReadableSpan)).toBe(true);
    expect(generate?.attributes).toMatchObject({ "proj.report.format": "csv", "proj.report.rows": ORDERS });
    const put = inTrace.find((span) => span.name === "ObjectStorage.put");
    expect(under(put, process as ReadableSpan)).toBe(true);
    expect(put?.kind).toBe(SpanKind.CLIENT);
    expect(put?.attributes).toMatchObject({ "proj.port": "ObjectStorage", "proj.bytes": report.byteSize });

    // No token, key, id, name or bound value in anything exported, in any span of the run.
    const text = exportedText(exporter.getFinishedSpans());
    const devSecret = (await readFile(join(dataDir, "dev-jwt-secret"), "utf8")).trim();
    for (const secret of [
      adminToken,
      tenantToken,
      devSecret,
      tenant.id,
      tenant.slug,
      tenant.name,
      report.id,
      "tenants/",
      "Lovelace",
      "ORD-0000001",
    ]) {
      expect(text.includes(secret), `exported spans carry ${secret.slice(0, 12)}…`).toBe(false);
    }
  });

  it("keeps the request's span current when its body arrives after the headers", async () => {
    exporter.reset();
    // Fastify runs the handler from the body's `end` event, which a late body fires from the
    // socket: the span must still be current there.
    const body = JSON.stringify({ format: "csv" });
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const sent = httpRequest(`${base}/reports`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${tenantToken}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      });
      sent.on("response", (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      });
      sent.on("error", reject);
      sent.flushHeaders();
      setTimeout(() => sent.end(body), 50);
    });
    expect(answer.status, answer.text).toBe(202);
    const { id } = JSON.parse(answer.text) as ReportStatusBody;
    expect(await settledReport(asTenant, id)).toMatchObject({ status: "done" });
    await jobSpanEnded();
    const spans = exporter.getFinishedSpans();
    const late = spans.find((span) => span.name === "POST /reports") as ReadableSpan;
    const recorded = spans.find((span) => span.attributes["db.query.summary"] === "INSERT reports");
    const send = spans.find((span) => span.name === "send reports");
    expect(recorded?.spanContext().traceId).toBe(late.spanContext().traceId);
    expect(send?.parentSpanContext?.spanId).toBe(late.spanContext().spanId);
  });

  it("writes the request's trace id and span id on its log lines", () => {
    const traceId = route.spanContext().traceId;
    const completed = log.lines.find((line) => line.msg === "request completed" && line.trace_id === traceId);
    expect(completed).toMatchObject({ span_id: route.spanContext().spanId, trace_flags: "01" });
    expect((completed?.res as { statusCode?: number } | undefined)?.statusCode).toBe(202);
    // Every line of that request after the span starts carries it; other requests carry their own.
    const reqId = completed?.reqId;
    const ofRequest = log.lines.filter((line) => line.reqId === reqId && line.msg !== "incoming request");
    expect(ofRequest.length).toBeGreaterThan(0);
    for (const line of ofRequest) expect(line.trace_id).toBe(traceId);
    const others = new Set(log.lines.filter((line) => line.reqId !== reqId).map((line) => line.trace_id));
    expect(others.has(traceId)).toBe(false);
  });

  it("serves /metrics in the Prometheus text format with the operations' histograms and counters", async () => {
    const response = await caller(base, undefined)("GET", "/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const all = samples(text);
    const find = (name: string, labels: Record<string, string>) =>
      all.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
    const total = (name: string, labels: Record<string, string>) =>
      find(name, labels).reduce((sum, sample) => sum + sample.value, 0);
    // Two reports were requested above, each made by one job.
    const REPORTS = 2;

    // The resource: the process is described, but not by its command line or its owner.
    const [target] = find("target_info", {});
    expect(target?.labels.process_pid).toBe(String(process.pid));
    expect(target?.labels.process_runtime_name).toBe("nodejs");
    for (const withheld of ["process_command_args", "process_command_line", "process_owner"]) {
      expect(target?.labels, withheld).not.toHaveProperty(withheld);
    }

    expect(
      total("http_server_request_duration_count", {
        http_request_method: "POST",
        http_route: "/reports",
        http_response_status_code: "202",
      }),
    ).toBe(REPORTS);
    expect(
      find("http_server_request_duration_count", { http_route: "/reports/:id/status" }).map(
        (sample) => sample.labels.otel_scope_name,
      ),
    ).toEqual(["tenant-reports"]);
    expect(find("http_server_request_duration_bucket", { http_route: "/reports", le: "+Inf" })).toHaveLength(
      1,
    );
    expect(
      total("db_client_operation_duration_count", {
        db_system_name: "postgresql",
        db_operation_name: "INSERT",
      }),
    ).toBeGreaterThan(0);
    expect(total("proj_operation_duration_count", { proj_port: "ObjectStorage", proj_method: "put" })).toBe(
      REPORTS,
    );
    expect(
      total("proj_operation_duration_count", { proj_port: "ReportGenerator", proj_method: "generate" }),
    ).toBe(REPORTS);
    expect(total("proj_operation_duration_count", { proj_port: "TokenDecoder" })).toBeGreaterThan(0);
    expect(total("messaging_process_duration_count", { messaging_destination_name: "reports" })).toBe(
      REPORTS,
    );
    expect(total("messaging_client_sent_messages_total", { messaging_destination_name: "reports" })).toBe(
      REPORTS,
    );
    // A refused token is an error point labelled by the taxonomy code.
    expect((await caller(base, "not.a.token")("GET", "/tenants")).status).toBe(401);
    const after = samples(await (await caller(base, undefined)("GET", "/metrics")).text());
    expect(
      after.some(
        (sample) =>
          sample.name === "proj_operation_errors_total" &&
          sample.labels.proj_port === "TokenDecoder" &&
          sample.labels.error_type === "UNAUTHENTICATED",
      ),
    ).toBe(true);
    // Neither scrapes nor probes are traced.
    expect((await caller(base, undefined)("GET", "/health")).status).toBe(200);
    const names = exporter.getFinishedSpans().map((span) => span.name);
    expect(names.filter((name) => name.includes("/metrics") || name.includes("/health"))).toEqual([]);
    for (const secret of [tenant.id, tenant.slug, report.id, tenantToken]) expect(text).not.toContain(secret);
  });
});
