import type { Page, Principal, Tenant, TenantStatus, TokenDecoder, TokenIssuer } from "@proj/ports";
import { isInfrastructureError, TENANT_STATUSES, UnauthenticatedError } from "@proj/ports";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { requireAdmin } from "../application/access.js";
import type { ReportRecord } from "../application/report-store.js";
import type { ReportService } from "../application/reports.js";
import type { TenantAdministration } from "../application/tenant-administration.js";
import { CLIENT_MESSAGE_BY_CODE, STATUS_BY_CODE } from "./error-status.js";
import { PageBodies } from "./page-bodies.js";

export interface HttpDependencies {
  decoder: TokenDecoder;
  administration: TenantAdministration;
  reports: ReportService;
  /** Present only in development mode (no JWT settings): lets an admin mint tenant tokens. */
  devIssuer?: TokenIssuer;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const slugSchema = { type: "string", minLength: 3, maxLength: 63 } as const;
const versionBody = {
  type: "object",
  required: ["expectedVersion"],
  additionalProperties: false,
  properties: { expectedVersion: { type: "integer", minimum: 1 } },
} as const;

/**
 * A tenant as it is answered. Fastify compiles response schemas into a serializer that writes the
 * known fields directly: a page of 50 tenants serialises about twice as fast as through
 * `JSON.stringify`, which leaves its fast path for every `Date` (`toJSON`). `settings` is any JSON
 * (an empty schema: serialised by `JSON.stringify`); the output is byte for byte the same.
 */
const tenantResponse = {
  type: "object",
  required: ["id", "slug", "name", "status", "plan", "settings", "version", "createdAt", "updatedAt"],
  properties: {
    id: { type: "string" },
    slug: { type: "string" },
    name: { type: "string" },
    status: { type: "string" },
    plan: { type: "string" },
    settings: {},
    version: { type: "integer" },
    createdAt: { type: "string", format: "date-time" },
    updatedAt: { type: "string", format: "date-time" },
  },
} as const;

const tenantPageResponse = {
  type: "object",
  required: ["items"],
  properties: { items: { type: "array", items: tenantResponse }, nextCursor: { type: "string" } },
} as const;

/** What a client is shown of a report: never the claim, the worker or the storage key. */
export function reportStatus(report: ReportRecord) {
  return {
    id: report.id,
    format: report.format,
    status: report.status,
    attempts: report.attempts,
    requestedAt: report.requestedAt.toISOString(),
    ...(report.startedAt ? { startedAt: report.startedAt.toISOString() } : {}),
    ...(report.finishedAt ? { finishedAt: report.finishedAt.toISOString() } : {}),
    ...(report.rowCount === undefined ? {} : { rowCount: report.rowCount }),
    ...(report.byteSize === undefined ? {} : { byteSize: report.byteSize }),
    ...(report.status === "failed" && report.errorCode ? { errorCode: report.errorCode } : {}),
  };
}

function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new UnauthenticatedError("missing", "no bearer token");
  return request.principal;
}

export interface HttpServerOptions {
  /** Log every request (Fastify's pino, JSON lines). */
  logger?: boolean;
  /** Where the log lines go (stdout when absent). */
  logStream?: NodeJS.WritableStream;
  /**
   * Present when telemetry is on: registers the hooks that make a server span per request (the
   * composition root's, so this layer knows no telemetry library).
   */
  traceRequests?: (app: FastifyInstance) => void;
  /** Present with `METRICS=prometheus`: the text `GET /metrics` answers. */
  metrics?: () => Promise<string>;
}

/** Routes whose `config` says `traced: false` (health checks, scrapes) make no span. */
export interface TracedRouteConfig {
  traced?: boolean;
}

type RouteConfig = TracedRouteConfig & { public?: boolean };

/** Routes, schemas and the error → status mapping; knows ports and use cases, never adapters. */
export function buildHttpServer(deps: HttpDependencies, options: HttpServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger:
      options.logger === true && options.logStream !== undefined
        ? { stream: options.logStream }
        : (options.logger ?? false),
    bodyLimit: 1_048_576,
    // Fastify's default strips unknown properties and answers 201: a `tenantId` slipped into a body
    // must be refused (400), never silently dropped. `additionalProperties: false` then means it.
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.decorateRequest("principal", null);

  // First of the onRequest hooks, so the token's decoding is a child of the request's span.
  options.traceRequests?.(app);

  app.addHook("onRequest", async (request) => {
    if ((request.routeOptions.config as RouteConfig | undefined)?.public) return;
    const header = request.headers.authorization;
    request.principal = await deps.decoder.decode(header ?? "");
  });

  app.setErrorHandler((error, request, reply) => {
    if (isInfrastructureError(error)) {
      // UNAUTHENTICATED from a backend (a rejected database password) is the server's problem.
      const callerToken = UnauthenticatedError.isInstance(error);
      const status = error.code === "UNAUTHENTICATED" && !callerToken ? 500 : STATUS_BY_CODE[error.code];
      // Backend messages name endpoints, tables and buckets, and MySQL's carry SQL text: log them,
      // never send them, whatever the status.
      if (status >= 500) {
        request.log.error({ err: error }, "request failed");
        return reply.status(status).send({ error: error.code, message: CLIENT_MESSAGE_BY_CODE[error.code] });
      }
      request.log.info({ err: error }, "request refused");
      if (callerToken) reply.header("www-authenticate", 'Bearer error="invalid_token"');
      return reply.status(status).send({
        error: error.code,
        message: CLIENT_MESSAGE_BY_CODE[error.code],
        // A token refusal's reason is one of a fixed list of words, safe to send.
        ...(callerToken ? { reason: error.reason } : {}),
      });
    }
    const validation = (error as { validation?: unknown }).validation;
    if (validation !== undefined) {
      return reply.status(400).send({ error: "INVALID_ARGUMENT", message: (error as Error).message });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send({ error: "INVALID_ARGUMENT", message: (error as Error).message });
    }
    request.log.error({ err: error }, "unexpected error");
    return reply.status(500).send({ error: "INTERNAL", message: "internal error" });
  });

  app.setNotFoundHandler((_request, reply) =>
    reply.status(404).send({ error: "NOT_FOUND", message: "no such route" }),
  );

  // Probes come every few seconds: a trace each would drown the requests worth looking at.
  app.get("/health", { config: { public: true, traced: false } satisfies RouteConfig }, async () => ({
    status: "ok",
  }));

  const scrape = options.metrics;
  if (scrape !== undefined) {
    // Unauthenticated like /health (scrapers carry no tenant token): its labels name operations,
    // routes and status codes, never a tenant, a key or a value.
    app.get(
      "/metrics",
      { config: { public: true, traced: false } satisfies RouteConfig },
      async (_request, reply) => reply.type("text/plain; version=0.0.4; charset=utf-8").send(await scrape()),
    );
  }

  app.post<{ Body: { slug: string; name: string; plan: string; settings?: Record<string, never> } }>(
    "/tenants",
    {
      schema: {
        body: {
          type: "object",
          required: ["slug", "name", "plan"],
          additionalProperties: false,
          properties: {
            slug: slugSchema,
            name: { type: "string", minLength: 1, maxLength: 200 },
            plan: { type: "string", minLength: 1, maxLength: 50 },
            settings: { type: "object" },
          },
        },
        response: { 201: tenantResponse },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deps.administration.create(principalOf(request), request.body)),
  );

  let pageBodies: PageBodies | undefined;
  app.get<{ Querystring: { status?: TenantStatus; limit?: number; after?: string } }>(
    "/tenants",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            status: { type: "string", enum: [...TENANT_STATUSES] },
            limit: { type: "integer", minimum: 1, maximum: 500 },
            after: { type: "string", maxLength: 500 },
          },
        },
        response: { 200: tenantPageResponse },
      },
    },
    async (request, reply) => {
      const page = await deps.administration.list(principalOf(request), request.query);
      // The route's compiled serializer (tenantPageResponse), run only when the page changed.
      if (pageBodies === undefined) {
        const serialize = reply.getSerializationFunction("200");
        if (serialize === undefined) throw new Error("GET /tenants has no compiled response serializer");
        pageBodies = new PageBodies((body: Page<Tenant>) =>
          serialize(body as unknown as Record<string, unknown>),
        );
      }
      const { status, limit, after } = request.query;
      return reply
        .type("application/json; charset=utf-8")
        .send(pageBodies.body(`${status ?? ""}:${limit ?? ""}:${after ?? ""}`, page));
    },
  );

  app.get<{ Params: { id: string } }>(
    "/tenants/:id",
    { schema: { response: { 200: tenantResponse } } },
    async (request) => deps.administration.get(principalOf(request), request.params.id),
  );

  app.post<{ Params: { id: string }; Body: { expectedVersion: number } }>(
    "/tenants/:id/suspend",
    { schema: { body: versionBody, response: { 200: tenantResponse } } },
    async (request) =>
      deps.administration.suspend(principalOf(request), request.params.id, request.body.expectedVersion),
  );

  app.post<{ Params: { id: string }; Body: { expectedVersion: number } }>(
    "/tenants/:id/reactivate",
    { schema: { body: versionBody, response: { 200: tenantResponse } } },
    async (request) =>
      deps.administration.reactivate(principalOf(request), request.params.id, request.body.expectedVersion),
  );

  app.post<{ Body: { format?: "xlsx" | "csv" } }>(
    "/reports",
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          properties: { format: { type: "string", enum: ["xlsx", "csv"] } },
        },
      },
    },
    async (request, reply) => {
      const report = await deps.reports.request(principalOf(request), request.body?.format ?? "xlsx");
      return reply.status(202).header("location", `/reports/${report.id}`).send(reportStatus(report));
    },
  );

  app.get<{ Params: { id: string } }>("/reports/:id/status", async (request) =>
    reportStatus(await deps.reports.status(principalOf(request), request.params.id)),
  );

  app.get<{ Params: { id: string } }>("/reports/:id", async (request, reply) => {
    const download = await deps.reports.download(principalOf(request), request.params.id);
    if (download.kind === "not-ready") {
      const status = reportStatus(download.report);
      // Failed: the file will never come; the status says why.
      if (download.report.status === "failed") {
        return reply.status(409).send({
          error: "CONFLICT",
          message: "the report failed: its status says why",
          report: status,
        });
      }
      return reply.status(202).header("retry-after", "1").send(status);
    }
    if (download.kind === "url") return reply.redirect(download.url, 303);
    return reply
      .header("content-type", download.contentType)
      .header("content-length", download.size)
      .header("content-disposition", `attachment; filename="${download.fileName}"`)
      .send(download.body);
  });

  if (deps.devIssuer !== undefined) {
    // Development only: sample data for demos and load tests.
    app.post<{ Body: { count: number } }>(
      "/orders/sample",
      {
        schema: {
          body: {
            type: "object",
            required: ["count"],
            additionalProperties: false,
            properties: { count: { type: "integer", minimum: 1, maximum: 1_000_000 } },
          },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send({ added: await deps.reports.addSampleOrders(principalOf(request), request.body.count) }),
    );

    const issuer = deps.devIssuer;
    app.post<{ Body: { subject: string; tenantId?: string; roles?: string[] } }>(
      "/dev/tokens",
      {
        schema: {
          body: {
            type: "object",
            required: ["subject"],
            additionalProperties: false,
            properties: {
              subject: { type: "string", minLength: 1, maxLength: 200 },
              tenantId: { type: "string", minLength: 1, maxLength: 100 },
              roles: { type: "array", items: { type: "string", maxLength: 50 }, maxItems: 20 },
            },
          },
        },
      },
      async (request, reply) => {
        requireAdmin(principalOf(request));
        return reply.status(201).send({ token: await issuer.issue(request.body) });
      },
    );
  }

  return app;
}
