import { resolve } from "node:path";

export type DatabaseConfig =
  | { kind: "pglite"; dataDir: string | undefined }
  | { kind: "postgres"; url: string; tenantRole: string | undefined }
  | { kind: "mysql"; url: string };

export type StorageConfig =
  | { kind: "local"; root: string }
  | { kind: "r2"; accountId: string; bucket: string; accessKeyId: string; secretAccessKey: string }
  | {
      kind: "s3";
      bucket: string;
      region: string;
      endpoint: string | undefined;
      forcePathStyle: boolean;
      /** `WHEN_REQUIRED` for endpoints that reject the SDK's default checksum headers. */
      checksums: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
      accessKeyId: string | undefined;
      secretAccessKey: string | undefined;
    };

export type CacheConfig =
  | { kind: "memory"; maxEntries: number }
  | { kind: "redis"; url: string; namespace: string }
  /** L1 memory in each process, L2 Redis, invalidations over Redis pub/sub (`@proj/cache-tiered`). */
  | { kind: "tiered"; url: string; namespace: string; maxEntries: number };

export type QueueConfig =
  | { kind: "memory" }
  | { kind: "postgres"; url: string; schema: string }
  | { kind: "redis"; url: string; namespace: string }
  | { kind: "nats"; servers: string; namespace: string }
  | { kind: "rabbitmq"; url: string; prefix: string };

export interface WorkerConfig {
  /** Run a report worker inside the API process (always with the memory queue). */
  inApi: boolean;
  /** Reports made at once by one worker. */
  concurrency: number;
  /** The job lease and the report claim: how long a dead worker holds a report. */
  leaseMs: number;
  /** Attempts of a report job before the report is failed. */
  maxAttempts: number;
  /** On SIGTERM, how long running reports may take before they are given back to the queue. */
  shutdownGraceMs: number;
  /** How often a worker looks for reports whose job was lost, and from what age. */
  sweepIntervalMs: number;
}

export type TokenConfig =
  | { kind: "development"; keyFile: string }
  | { kind: "secret"; secret: string; issuer: string | undefined; audience: string | undefined }
  | { kind: "jwks"; jwksUrl: string; algorithms: JwksAlgorithm[]; issuer: string; audience: string };

const JWKS_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
type JwksAlgorithm = (typeof JWKS_ALGORITHMS)[number];

/**
 * OpenTelemetry, on only when the environment asks for it: with nothing set, no SDK is loaded and
 * no adapter is decorated. The exporters themselves are configured by the standard `OTEL_*`
 * variables, which the Node SDK reads.
 */
export interface TelemetryConfig {
  /** Spans recorded and exported as `OTEL_TRACES_EXPORTER` / `OTEL_EXPORTER_OTLP_*` say. */
  traces: boolean;
  /**
   * `prometheus`: served as text on `GET /metrics` (`METRICS=prometheus`); `env`: pushed as
   * `OTEL_METRICS_EXPORTER` / `OTEL_EXPORTER_OTLP_*` say; `off`: none.
   */
  metrics: "off" | "env" | "prometheus";
}

export interface ServiceConfig {
  host: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  storage: StorageConfig;
  cache: CacheConfig;
  queue: QueueConfig;
  worker: WorkerConfig;
  tokens: TokenConfig;
  logRequests: boolean;
  telemetry: TelemetryConfig;
}

/** Thrown at start when the environment does not describe a runnable service; lists every problem. */
export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigurationError";
  }
}

type Env = Record<string, string | undefined>;

function parseUrl(name: string, value: string, problems: string[]): URL | undefined {
  try {
    return new URL(value);
  } catch {
    problems.push(`${name} is not a URL`);
    return undefined;
  }
}

function database(env: Env, dataDir: string, problems: string[]): DatabaseConfig {
  const value = env.DATABASE_URL;
  if (!value) return { kind: "pglite", dataDir: resolve(dataDir, "pglite") };
  const url = parseUrl("DATABASE_URL", value, problems);
  if (url === undefined) return { kind: "pglite", dataDir: undefined };
  switch (url.protocol) {
    case "postgres:":
    case "postgresql:":
      return { kind: "postgres", url: value, tenantRole: env.DATABASE_TENANT_ROLE || undefined };
    case "mysql:":
      if (env.DATABASE_TENANT_ROLE)
        problems.push("DATABASE_TENANT_ROLE needs a postgres:// DATABASE_URL (row-level security)");
      return { kind: "mysql", url: value };
    case "pglite:":
      return {
        kind: "pglite",
        dataDir:
          url.pathname === "" || url.pathname === "/" ? undefined : resolve(decodeURIComponent(url.pathname)),
      };
    default:
      problems.push(`DATABASE_URL must start with postgres://, mysql:// or pglite://, not ${url.protocol}//`);
      return { kind: "pglite", dataDir: undefined };
  }
}

function storage(env: Env, dataDir: string, problems: string[]): StorageConfig {
  const value = env.STORAGE_URL;
  if (!value) return { kind: "local", root: resolve(dataDir, "storage") };
  const url = parseUrl("STORAGE_URL", value, problems);
  if (url === undefined) return { kind: "local", root: resolve(dataDir, "storage") };
  const bucket = url.pathname.replace(/^\/+/, "").split("/")[0] ?? "";
  switch (url.protocol) {
    case "file:":
      return { kind: "local", root: resolve(decodeURIComponent(url.pathname)) };
    case "r2:": {
      const accessKeyId = env.R2_ACCESS_KEY_ID ?? decodeURIComponent(url.username);
      const secretAccessKey = env.R2_SECRET_ACCESS_KEY ?? decodeURIComponent(url.password);
      if (!url.hostname) problems.push("STORAGE_URL r2://ACCOUNT_ID/BUCKET needs the account id");
      if (!bucket) problems.push("STORAGE_URL r2://ACCOUNT_ID/BUCKET needs the bucket");
      if (!accessKeyId || !secretAccessKey)
        problems.push("r2:// storage needs R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY");
      return { kind: "r2", accountId: url.hostname, bucket, accessKeyId, secretAccessKey };
    }
    case "s3:": {
      // s3://BUCKET?region=eu-west-1, or s3://BUCKET?endpoint=http://127.0.0.1:9000&forcePathStyle=true[&checksums=when_required]
      const endpoint = url.searchParams.get("endpoint") ?? undefined;
      if (!url.hostname) problems.push("STORAGE_URL s3://BUCKET needs the bucket");
      if (endpoint !== undefined) parseUrl("the endpoint= of STORAGE_URL", endpoint, problems);
      return {
        kind: "s3",
        bucket: url.hostname,
        region: url.searchParams.get("region") ?? env.AWS_REGION ?? "us-east-1",
        endpoint,
        forcePathStyle: url.searchParams.get("forcePathStyle") === "true",
        checksums: url.searchParams.get("checksums") === "when_required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED",
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? (url.username ? decodeURIComponent(url.username) : undefined),
        secretAccessKey:
          env.AWS_SECRET_ACCESS_KEY ?? (url.password ? decodeURIComponent(url.password) : undefined),
      };
    }
    default:
      problems.push(`STORAGE_URL must start with r2://, s3:// or file://, not ${url.protocol}//`);
      return { kind: "local", root: resolve(dataDir, "storage") };
  }
}

function cache(env: Env, problems: string[]): CacheConfig {
  const value = env.CACHE_URL;
  if (!value) return { kind: "memory", maxEntries: 10_000 };
  const url = parseUrl("CACHE_URL", value, problems);
  const namespace = env.CACHE_NAMESPACE ?? "tenant-reports";
  if (url?.protocol === "redis:" || url?.protocol === "rediss:")
    return { kind: "redis", url: value, namespace };
  if (url?.protocol === "tiered+redis:" || url?.protocol === "tiered+rediss:") {
    return { kind: "tiered", url: value.slice("tiered+".length), namespace, maxEntries: 10_000 };
  }
  if (url !== undefined)
    problems.push(
      `CACHE_URL must start with redis://, rediss:// or tiered+redis:// (tiered+rediss://), not ${url.protocol}//`,
    );
  return { kind: "memory", maxEntries: 10_000 };
}

function queue(env: Env, problems: string[]): QueueConfig {
  const value = env.QUEUE_URL;
  if (!value) return { kind: "memory" };
  const url = parseUrl("QUEUE_URL", value, problems);
  if (url === undefined) return { kind: "memory" };
  switch (url.protocol) {
    case "postgres:":
    case "postgresql:":
      return { kind: "postgres", url: value, schema: env.QUEUE_NAMESPACE ?? "tenant_reports_jobs" };
    case "nats:":
      return { kind: "nats", servers: value, namespace: env.QUEUE_NAMESPACE ?? "tenant-reports" };
    case "redis:":
    case "rediss:":
      return { kind: "redis", url: value, namespace: env.QUEUE_NAMESPACE ?? "tenant-reports-jobs" };
    case "amqp:":
    case "amqps:":
      return { kind: "rabbitmq", url: value, prefix: env.QUEUE_NAMESPACE ?? "tenant-reports" };
    default:
      problems.push(
        `QUEUE_URL must start with postgres://, redis://, amqp:// or nats://, not ${url.protocol}//`,
      );
      return { kind: "memory" };
  }
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

function worker(env: Env, queueConfig: QueueConfig, problems: string[]): WorkerConfig {
  const setting = env.API_WORKER;
  if (setting !== undefined && setting !== "true" && setting !== "false")
    problems.push("API_WORKER must be true or false");
  const inApi = setting === undefined ? queueConfig.kind === "memory" : setting === "true";
  if (!inApi && queueConfig.kind === "memory")
    problems.push(
      "API_WORKER=false needs a QUEUE_URL: the memory queue's jobs are only seen by its own process",
    );
  return {
    inApi,
    concurrency: integer(env, "WORKER_CONCURRENCY", 2, 1, 64, problems),
    leaseMs: integer(env, "REPORT_LEASE_MS", 30_000, 1_000, 3_600_000, problems),
    maxAttempts: integer(env, "REPORT_MAX_ATTEMPTS", 5, 1, 100, problems),
    shutdownGraceMs: integer(env, "SHUTDOWN_GRACE_MS", 25_000, 0, 3_600_000, problems),
    sweepIntervalMs: integer(env, "REPORT_SWEEP_MS", 60_000, 1_000, 86_400_000, problems),
  };
}

function tokens(env: Env, dataDir: string, problems: string[]): TokenConfig {
  const issuer = env.JWT_ISSUER || undefined;
  const audience = env.JWT_AUDIENCE || undefined;
  if (env.JWT_SECRET && env.JWT_JWKS_URL) problems.push("set JWT_SECRET or JWT_JWKS_URL, not both");
  if (env.JWT_SECRET) {
    if (Buffer.byteLength(env.JWT_SECRET) < 32) problems.push("JWT_SECRET must be at least 32 bytes");
    return { kind: "secret", secret: env.JWT_SECRET, issuer, audience };
  }
  if (env.JWT_JWKS_URL) {
    const url = parseUrl("JWT_JWKS_URL", env.JWT_JWKS_URL, problems);
    if (
      url !== undefined &&
      url.protocol !== "https:" &&
      url.hostname !== "127.0.0.1" &&
      url.hostname !== "localhost"
    ) {
      problems.push("JWT_JWKS_URL must be https:// (plain http only for localhost)");
    }
    const algorithms = (env.JWT_ALGORITHMS ?? "RS256,ES256")
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
    const unknown = algorithms.filter((a) => !(JWKS_ALGORITHMS as readonly string[]).includes(a));
    if (unknown.length > 0)
      problems.push(`JWT_ALGORITHMS may hold only ${JWKS_ALGORITHMS.join(", ")}; not ${unknown.join(", ")}`);
    // A key set of a shared identity provider signs tokens for other applications too.
    if (!issuer || !audience) problems.push("JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE");
    return {
      kind: "jwks",
      jwksUrl: env.JWT_JWKS_URL,
      algorithms: algorithms as JwksAlgorithm[],
      issuer: issuer ?? "",
      audience: audience ?? "",
    };
  }
  if (env.NODE_ENV === "production") {
    problems.push(
      "NODE_ENV=production needs JWT_SECRET or JWT_JWKS_URL: development tokens are refused in production",
    );
  }
  return { kind: "development", keyFile: resolve(dataDir, "dev-jwt-secret") };
}

/** A comma-separated exporter list (`OTEL_TRACES_EXPORTER=otlp,zipkin`) that names at least one exporter. */
function exporters(value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  return value.split(",").some((name) => name.trim() !== "" && name.trim().toLowerCase() !== "none");
}

/**
 * Telemetry is on when a standard variable names a destination: an OTLP endpoint, an exporter
 * (`none` is none), or `METRICS=prometheus`; `OTEL_SDK_DISABLED=true` turns it all off, as the
 * specification says. The Node SDK would otherwise default to sending to localhost:4318.
 */
function telemetry(env: Env, problems: string[]): TelemetryConfig {
  const prometheus = env.METRICS === "prometheus";
  if (env.METRICS !== undefined && env.METRICS !== "" && !prometheus)
    problems.push("METRICS must be prometheus (or unset)");
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") {
    if (prometheus)
      problems.push("METRICS=prometheus needs the OpenTelemetry SDK, which OTEL_SDK_DISABLED=true turns off");
    return { traces: false, metrics: "off" };
  }
  const endpoint = (signal: string) =>
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]);
  const traces = exporters(env.OTEL_TRACES_EXPORTER) ?? endpoint("TRACES");
  const pushed = exporters(env.OTEL_METRICS_EXPORTER) ?? endpoint("METRICS");
  return { traces, metrics: prometheus ? "prometheus" : pushed ? "env" : "off" };
}

/** Reads and validates the whole configuration, reporting every problem at once. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const problems: string[] = [];
  const dataDir = resolve(env.DATA_DIR ?? ".data");
  const port = Number(env.PORT ?? "3000");
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    problems.push("PORT must be an integer from 0 to 65535");
  const queueConfig = queue(env, problems);
  const cacheConfig = cache(env, problems);
  if (queueConfig.kind === "rabbitmq" && cacheConfig.kind === "memory")
    problems.push(
      "QUEUE_URL amqp:// keeps the queue's shared state in Redis: set CACHE_URL=redis://… (or tiered+redis://…)",
    );
  const config: ServiceConfig = {
    host: env.HOST ?? "127.0.0.1",
    port,
    dataDir,
    database: database(env, dataDir, problems),
    storage: storage(env, dataDir, problems),
    cache: cacheConfig,
    queue: queueConfig,
    worker: worker(env, queueConfig, problems),
    tokens: tokens(env, dataDir, problems),
    logRequests: env.LOG_REQUESTS === "true",
    telemetry: telemetry(env, problems),
  };
  if (problems.length > 0) throw new ConfigurationError(problems);
  return config;
}
