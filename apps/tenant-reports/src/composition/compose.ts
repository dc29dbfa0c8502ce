import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { Attributes } from "@opentelemetry/api";
import { createLocalObjectStorage } from "@proj/adapter-local-fs";
import { createMemoryJobQueue, createMemoryTokenAuthority } from "@proj/adapter-memory";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createMemoryCache } from "@proj/cache-memory";
import {
  type Cache,
  isInfrastructureError,
  type JobQueue,
  type JsonValue,
  type ObjectStorage,
  type ReportGenerator,
  type SqlDatabase,
  type TenantRepository,
  type TokenDecoder,
  type TokenIssuer,
} from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import {
  createCachedTenantRepository,
  createSqlTenantRepository,
  runAsTenant,
} from "@proj/repository-tenant-postgres";
import { createJwtTokenDecoder } from "@proj/security-jwt";
import { type InstrumentablePorts, instrument, type PortName } from "@proj/telemetry-otel";
import type { FastifyInstance } from "fastify";
import { ReportWorker, type StrayUploadCleaner } from "../application/report-worker.js";
import { ReportService } from "../application/reports.js";
import { TenantAdministration } from "../application/tenant-administration.js";
import { buildHttpServer } from "../http/server.js";
import { SqlOrderStore } from "../infrastructure/sql-order-store.js";
import { SqlReportStore } from "../infrastructure/sql-report-store.js";
import {
  type CacheConfig,
  ConfigurationError,
  type DatabaseConfig,
  type QueueConfig,
  type ServiceConfig,
  type StorageConfig,
  type TokenConfig,
} from "./config.js";
import { traceRequests } from "./http-tracing.js";
import { loadAdapter } from "./load-adapter.js";
import { startTelemetry, type Telemetry, type TelemetryOverrides } from "./telemetry.js";

/** What a caller of the composition root may supply besides the configuration (tests do). */
export interface ComposeOptions {
  /** In place of the exporters the `OTEL_*` variables choose (when telemetry is on). */
  telemetry?: TelemetryOverrides;
  /** Where the request log goes (`LOG_REQUESTS=true`); stdout when absent. */
  logStream?: NodeJS.WritableStream;
}

/** The running service: its HTTP server and everything to close on shutdown. */
export interface ComposedService {
  readonly http: FastifyInstance;
  /** In development mode: an issuer the decoder trusts, for the printed tokens and the demo. */
  readonly devIssuer: TokenIssuer | undefined;
  readonly description: string;
  /** The report worker running in this process (always with the embedded memory queue), if any. */
  readonly worker: ReportWorker | undefined;
  /** The OpenTelemetry SDK this service started, when the configuration turned telemetry on. */
  readonly telemetry: Telemetry | undefined;
  /**
   * Closes the HTTP server (it stops accepting and answers what it has), then the in-process
   * worker (running reports get `worker.shutdownGraceMs` to finish, then are given back), then
   * every adapter, each once, in reverse order of opening, then flushes and stops telemetry.
   */
  close(): Promise<void>;
}

/** A worker process: report jobs taken from the shared queue, no HTTP. */
export interface ComposedWorker {
  readonly worker: ReportWorker;
  readonly description: string;
  readonly telemetry: Telemetry | undefined;
  /**
   * Stops taking jobs, lets running reports finish within the grace, then closes every adapter,
   * then flushes and stops telemetry.
   */
  close(): Promise<void>;
}

async function openDatabase(config: DatabaseConfig): Promise<SqlDatabase> {
  switch (config.kind) {
    case "postgres": {
      const { createPostgresDatabase } = await loadAdapter(
        "@proj/adapter-postgres",
        "DATABASE_URL (postgres://)",
        () => import("@proj/adapter-postgres"),
      );
      return createPostgresDatabase({ connectionString: config.url, applicationName: "tenant-reports" });
    }
    case "mysql": {
      const { createMysqlDatabase } = await loadAdapter(
        "@proj/adapter-mysql",
        "DATABASE_URL (mysql://)",
        () => import("@proj/adapter-mysql"),
      );
      return createMysqlDatabase({ uri: config.url });
    }
    case "pglite":
      if (config.dataDir !== undefined) await mkdir(config.dataDir, { recursive: true });
      return createPgliteDatabase({ dataDir: config.dataDir ?? "memory://" });
  }
}

interface OpenedStorage {
  storage: ObjectStorage;
  strayUploads?: StrayUploadCleaner;
}

async function openStorage(config: StorageConfig): Promise<OpenedStorage> {
  if (config.kind === "local") return { storage: createLocalObjectStorage({ root: config.root }) };
  const { createR2ObjectStorage, createS3CompatibleObjectStorage, createS3ObjectStorage } = await loadAdapter(
    "@proj/adapter-r2",
    `STORAGE_URL (${config.kind}://)`,
    () => import("@proj/adapter-r2"),
  );
  const s3 = (() => {
    switch (config.kind) {
      case "r2":
        return createR2ObjectStorage(config);
      case "s3": {
        const credentials =
          config.accessKeyId !== undefined && config.secretAccessKey !== undefined
            ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
            : undefined;
        if (config.endpoint === undefined) {
          return createS3ObjectStorage({
            bucket: config.bucket,
            region: config.region,
            ...(credentials ? { credentials } : {}),
          });
        }
        return createS3CompatibleObjectStorage({
          bucket: config.bucket,
          endpoint: config.endpoint,
          region: config.region,
          forcePathStyle: config.forcePathStyle,
          credentials,
          requestChecksumCalculation: config.checksums,
        });
      }
    }
  })();
  // A worker killed mid-upload leaves a multipart upload that S3 keeps until someone aborts it.
  return { storage: s3, strayUploads: (key, options) => s3.abortStrayUploads(key, options) };
}

async function openCache(config: CacheConfig): Promise<Cache<JsonValue>> {
  if (config.kind === "memory") return createMemoryCache<JsonValue>({ maxEntries: config.maxEntries });
  const chosenBy = `CACHE_URL (${config.kind === "tiered" ? "tiered+redis" : "redis"}://)`;
  const { createRedisCache } = await loadAdapter(
    "@proj/cache-redis",
    chosenBy,
    () => import("@proj/cache-redis"),
  );
  if (config.kind === "redis")
    return createRedisCache<JsonValue>({ url: config.url, namespace: config.namespace });
  const { createRedisInvalidationBus, createRedisLoaderLock, createTieredCache } = await loadAdapter(
    "@proj/cache-tiered",
    chosenBy,
    () => import("@proj/cache-tiered"),
  );
  // Every process builds the same: its own L1, the shared L2 namespace, one channel and lock space.
  return createTieredCache<JsonValue>({
    l1: createMemoryCache<JsonValue>({ maxEntries: config.maxEntries }),
    l2: createRedisCache<JsonValue>({ url: config.url, namespace: config.namespace, pipelineReads: true }),
    bus: createRedisInvalidationBus({ url: config.url, channel: config.namespace }),
    lock: createRedisLoaderLock({ url: config.url, namespace: config.namespace }),
    onEvent: tieredCacheWarning(),
  });
}

/** The tiered cache's degradations in the log, at most once a minute per kind. */
function tieredCacheWarning(): (event: { type: string }) => void {
  const lastAt = new Map<string, number>();
  const degraded = new Set(["l2-failed", "bus-down", "publish-failed", "lock-failed"]);
  return (event) => {
    if (!degraded.has(event.type)) return;
    const now = Date.now();
    if (now - (lastAt.get(event.type) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
    lastAt.set(event.type, now);
    console.warn(`tenant cache degraded (${event.type}): see @proj/cache-tiered's failure behaviour`);
  };
}

async function openQueue(
  config: QueueConfig,
  { database, cache }: { database: DatabaseConfig; cache: CacheConfig },
  db: SqlDatabase,
  track: <T extends { close(): Promise<void> }>(resource: T) => T,
): Promise<JobQueue> {
  switch (config.kind) {
    case "memory":
      return createMemoryJobQueue();
    case "postgres": {
      const { createPostgresJobQueue } = await loadAdapter(
        "@proj/queue-postgres",
        "QUEUE_URL (postgres://)",
        () => import("@proj/queue-postgres"),
      );
      // The app's own database when QUEUE_URL names it: jobs and reports in one pool.
      const shared = database.kind === "postgres" && sameDatabase(database.url, config.url);
      const queueDb = shared
        ? db
        : track(await openDatabase({ kind: "postgres", url: config.url, tenantRole: undefined }));
      return createPostgresJobQueue(queueDb, { schema: config.schema });
    }
    case "redis": {
      const { createRedisJobQueue } = await loadAdapter(
        "@proj/queue-redis",
        "QUEUE_URL (redis://)",
        () => import("@proj/queue-redis"),
      );
      return createRedisJobQueue({ url: config.url, namespace: config.namespace });
    }
    case "rabbitmq": {
      const { createRabbitMqJobQueue } = await loadAdapter(
        "@proj/queue-rabbitmq",
        "QUEUE_URL (amqp://)",
        () => import("@proj/queue-rabbitmq"),
      );
      if (cache.kind === "memory")
        throw new ConfigurationError(["QUEUE_URL amqp:// needs CACHE_URL=redis://…"]);
      // What RabbitMQ does not keep per message (cancellations, dead-letter records, keys' holders)
      // lives in Redis, under a namespace of its own next to the tenant cache's.
      const { createRedisCache } = await loadAdapter(
        "@proj/cache-redis",
        "QUEUE_URL (amqp://), for the queue's state",
        () => import("@proj/cache-redis"),
      );
      const state = track(
        createRedisCache<JsonValue>({ url: cache.url, namespace: `${cache.namespace}-jobs` }),
      );
      return createRabbitMqJobQueue({ url: config.url, prefix: config.prefix, state });
    }
    case "nats": {
      const { createNatsJobQueue } = await loadAdapter(
        "@proj/queue-nats",
        "QUEUE_URL (nats://)",
        () => import("@proj/queue-nats"),
      );
      return createNatsJobQueue({ servers: config.servers, namespace: config.namespace });
    }
  }
}

/** Whether two PostgreSQL URLs name the same server, database and user. */
function sameDatabase(a: string, b: string): boolean {
  const key = (value: string) => {
    const url = new URL(value);
    return `${url.username}@${url.hostname}:${url.port || "5432"}${url.pathname}${url.search}`;
  };
  return key(a) === key(b);
}

/** The development key lives in the data folder, made at first start, so tokens survive restarts. */
async function developmentSecret(keyFile: string): Promise<string> {
  try {
    return (await readFile(keyFile, "utf8")).trim();
  } catch {
    const secret = randomBytes(32).toString("base64url");
    await mkdir(dirname(keyFile), { recursive: true });
    await writeFile(keyFile, `${secret}\n`, { mode: 0o600, flag: "wx" }).catch(async () => undefined);
    return (await readFile(keyFile, "utf8")).trim();
  }
}

/** A cache outage shows in the log once per minute, not once per request. */
function throttledCacheWarning(consequence: string): (error: unknown) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (error) => {
    since += 1;
    const now = Date.now();
    if (now - lastAt < 60_000) return;
    const code = isInfrastructureError(error) ? error.code : "INTERNAL";
    console.warn(`tenant cache failed (${code}, ${since} time(s) since the last warning): ${consequence}`);
    lastAt = now;
    since = 0;
  };
}

/** A token issuer the development-mode decoder trusts, for a demo driving a service that already runs. */
export async function openDevelopmentIssuer(keyFile: string): Promise<TokenIssuer> {
  return createMemoryTokenAuthority({ secret: await developmentSecret(keyFile) }).issuer;
}

async function openTokens(
  config: TokenConfig,
): Promise<{ decoder: TokenDecoder; devIssuer: TokenIssuer | undefined }> {
  switch (config.kind) {
    case "development": {
      const secret = await developmentSecret(config.keyFile);
      const { issuer } = createMemoryTokenAuthority({ secret });
      return {
        decoder: createJwtTokenDecoder({ algorithms: ["HS256"], secret, cache: true }),
        devIssuer: issuer,
      };
    }
    case "secret":
      return {
        decoder: createJwtTokenDecoder({
          // RFC 7518: an HMAC key at least as long as the hash; allow only what the secret can carry.
          algorithms: (["HS256", "HS384", "HS512"] as const).filter(
            (_, i) => Buffer.byteLength(config.secret) >= [32, 48, 64][i]!,
          ),
          secret: config.secret,
          ...(config.issuer ? { issuer: config.issuer } : {}),
          ...(config.audience ? { audience: config.audience } : {}),
          cache: true,
        }),
        devIssuer: undefined,
      };
    case "jwks":
      return {
        decoder: createJwtTokenDecoder({
          algorithms: config.algorithms,
          jwksUrl: config.jwksUrl,
          issuer: config.issuer,
          audience: config.audience,
          cache: true,
        }),
        devIssuer: undefined,
      };
  }
}

/** What the API and the worker processes share: every adapter, the report store and the queue. */
interface Core {
  db: SqlDatabase;
  storage: ObjectStorage;
  strayUploads: StrayUploadCleaner | undefined;
  queue: JobQueue;
  tenants: TenantRepository;
  orders: SqlOrderStore;
  reports: SqlReportStore;
  generator: ReportGenerator;
}

/** Decorates an adapter for its port when telemetry is on; hands it back as it is otherwise. */
type Observe = <K extends PortName>(
  port: K,
  adapter: InstrumentablePorts[K],
  attributes?: Attributes,
) => InstrumentablePorts[K];

function observer(telemetry: Telemetry | undefined): Observe {
  if (telemetry === undefined) return (_port, adapter) => adapter;
  const { tracer, meter } = telemetry;
  // Both given: the decorators record from the first call, metrics included when only
  // METRICS=prometheus is set (no tracer provider is registered then; spans are no-ops).
  return (port, adapter, attributes) =>
    instrument(port, adapter, { tracer, meter, ...(attributes === undefined ? {} : { attributes }) });
}

type Track = <T extends { close(): Promise<void> }>(resource: T) => T;

/** Opened resources, closed in reverse order; on any failure while opening, what was opened is closed. */
function resources() {
  const opened: { close(): Promise<void> }[] = [];
  const track: Track = (resource) => {
    opened.push(resource);
    return resource;
  };
  const closeAll = async () => {
    const errors: unknown[] = [];
    for (const resource of opened.splice(0).reverse())
      await resource.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, "some adapters failed to close");
  };
  return { track, closeAll };
}

async function openCore(
  config: ServiceConfig,
  track: Track,
  observe: Observe,
  telemetry: Telemetry | undefined,
): Promise<Core> {
  // Each adapter is closed through what opened it (a decorator passes close() on untraced).
  const rawDb = track(await openDatabase(config.database));
  const db = observe("sqlDatabase", rawDb);
  const { storage: rawStorage, strayUploads } = await openStorage(config.storage);
  const storage = observe("objectStorage", track(rawStorage));
  // The port name erases the value type; the decorator hands values through untouched.
  const cache = observe(
    "cache",
    track(await openCache(config.cache)),
    config.cache.kind === "redis" ? { "db.system.name": "redis" } : undefined,
  ) as Cache<JsonValue>;
  const cachedTenants = track(
    createCachedTenantRepository(await createSqlTenantRepository(db), cache, {
      ttlMs: 30_000,
      onCacheReadError: throttledCacheWarning("tenant reads are answered by the database"),
      onInvalidationError: throttledCacheWarning("a tenant entry may stay stale until its TTL"),
    }),
  );
  const tenants = observe("tenantRepository", cachedTenants);
  const tenantRole = config.database.kind === "postgres" ? config.database.tenantRole : undefined;
  const orders = track(
    await SqlOrderStore.open(
      db,
      tenantRole === undefined
        ? {}
        : {
            tenantRole,
            scope: (tenantId, work, options) =>
              runAsTenant(db, tenantId, work, { ...options, role: tenantRole }),
          },
    ),
  );
  const reports = track(await SqlReportStore.open(db));
  // The queue polls its tables through the undecorated database: a span per poll would bury the
  // reports' traces. The queue itself is decorated even with telemetry off: a decorated worker
  // takes the trace envelope off a job whichever way its producer was configured, so API and
  // worker processes can have telemetry turned on one at a time. With no SDK it costs a method
  // call per job.
  const rawQueue = track(await openQueue(config.queue, config, rawDb, track));
  const queue = instrument("jobQueue", rawQueue, {
    ...(telemetry === undefined ? {} : { tracer: telemetry.tracer, meter: telemetry.meter }),
    ...(config.queue.kind === "rabbitmq" ? { attributes: { "messaging.system": "rabbitmq" } } : {}),
  });
  const generator = observe("reportGenerator", createOpenReportGenerator());
  return { db, storage, strayUploads, queue, tenants, orders, reports, generator };
}

function reportWorker(core: Core, config: ServiceConfig): ReportWorker {
  const { worker } = config;
  return new ReportWorker(
    {
      queue: core.queue,
      reports: core.reports,
      orders: core.orders,
      storage: core.storage,
      generator: core.generator,
      tenants: core.tenants,
      ...(core.strayUploads ? { strayUploads: core.strayUploads } : {}),
    },
    {
      concurrency: worker.concurrency,
      leaseMs: worker.leaseMs,
      maxAttempts: worker.maxAttempts,
      name: `${hostname()}:${process.pid}`,
      sweepIntervalMs: worker.sweepIntervalMs,
      staleAfterMs: worker.sweepIntervalMs,
      log: (line) => console.warn(line),
    },
  );
}

function describe(config: ServiceConfig): string {
  const { traces, metrics } = config.telemetry;
  const telemetry = [traces ? "traces" : "", metrics === "off" ? "" : `metrics:${metrics}`].filter(Boolean);
  return `database=${config.database.kind} storage=${config.storage.kind} cache=${config.cache.kind} queue=${config.queue.kind} telemetry=${telemetry.join("+") || "off"}`;
}

/** Starts telemetry before anything is opened (decorators take its tracer and meter). */
async function openTelemetry(
  config: ServiceConfig,
  options: ComposeOptions,
): Promise<{ telemetry: Telemetry | undefined; stopTelemetry: () => Promise<void> }> {
  const telemetry = await startTelemetry(config.telemetry, options.telemetry);
  return { telemetry, stopTelemetry: async () => telemetry?.shutdown() };
}

/**
 * The composition root: the one place that names concrete adapters. Everything else sees ports.
 * On any failure while opening, what was already opened is closed again.
 */
export async function composeService(
  config: ServiceConfig,
  options: ComposeOptions = {},
): Promise<ComposedService> {
  const { telemetry, stopTelemetry } = await openTelemetry(config, options);
  const observe = observer(telemetry);
  const { track, closeAll } = resources();
  try {
    const core = await openCore(config, track, observe, telemetry);
    const tokens = await openTokens(config.tokens);
    const { devIssuer } = tokens;
    const decoder = observe("tokenDecoder", track(tokens.decoder));
    const reports = new ReportService(core.orders, core.storage, core.tenants, core.reports, core.queue, {
      maxAttempts: config.worker.maxAttempts,
    });
    const http = buildHttpServer(
      {
        decoder,
        administration: new TenantAdministration(core.tenants),
        reports,
        ...(devIssuer ? { devIssuer } : {}),
      },
      {
        logger: config.logRequests,
        ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
        ...(telemetry === undefined
          ? {}
          : {
              traceRequests: (app: FastifyInstance) => traceRequests(app, telemetry.http),
              ...(telemetry.scrape === undefined ? {} : { metrics: telemetry.scrape }),
            }),
      },
    );
    let worker: ReportWorker | undefined;
    if (config.worker.inApi) {
      worker = reportWorker(core, config);
      worker.start();
      // The memory queue forgets its jobs with its process: the reports it left queued (or
      // running) are enqueued again now.
      if (!core.queue.capabilities.shared) await worker.sweep(0);
    }
    const description = `${describe(config)} tokens=${config.tokens.kind} worker=${worker ? `in-process×${config.worker.concurrency}` : "none"}`;
    let closing: Promise<void> | undefined;
    return {
      http,
      devIssuer,
      description,
      worker,
      telemetry,
      close() {
        closing ??= http
          .close()
          .then(() => worker?.close({ deadlineMs: config.worker.shutdownGraceMs }))
          .then(closeAll)
          .finally(stopTelemetry);
        return closing;
      },
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    await stopTelemetry().catch(() => undefined);
    throw error;
  }
}

/**
 * A report worker process: the same adapters as the API, no HTTP. It needs what several processes
 * can share: a queue (`QUEUE_URL`) and a database server (`DATABASE_URL`).
 */
export async function composeWorker(
  config: ServiceConfig,
  options: ComposeOptions = {},
): Promise<ComposedWorker> {
  const problems: string[] = [];
  if (config.queue.kind === "memory")
    problems.push(
      "a worker process needs QUEUE_URL (postgres://…): the memory queue lives in the API process, which runs its own worker",
    );
  if (config.database.kind === "pglite")
    problems.push(
      "a worker process needs DATABASE_URL (postgres:// or mysql://): PGlite is one process's database",
    );
  if (problems.length > 0) throw new ConfigurationError(problems);
  const { telemetry, stopTelemetry } = await openTelemetry(config, options);
  const { track, closeAll } = resources();
  try {
    const core = await openCore(config, track, observer(telemetry), telemetry);
    const worker = reportWorker(core, config);
    worker.start();
    let closing: Promise<void> | undefined;
    return {
      worker,
      telemetry,
      description: `${describe(config)} concurrency=${config.worker.concurrency} lease=${config.worker.leaseMs}ms`,
      close() {
        closing ??= worker
          .close({ deadlineMs: config.worker.shutdownGraceMs })
          .then(closeAll)
          .finally(stopTelemetry);
        return closing;
      },
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    await stopTelemetry().catch(() => undefined);
    throw error;
  }
}
