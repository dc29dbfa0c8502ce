import { describe, expect, it } from "vitest";
import { ConfigurationError, loadConfig } from "../src/composition/config.js";

describe("configuration", () => {
  it("defaults to embedded PGlite, a local folder, a memory cache and a development key", () => {
    const config = loadConfig({ DATA_DIR: "/tmp/tr-data" });
    expect(config.database).toEqual({ kind: "pglite", dataDir: "/tmp/tr-data/pglite" });
    expect(config.storage).toEqual({ kind: "local", root: "/tmp/tr-data/storage" });
    expect(config.cache).toEqual({ kind: "memory", maxEntries: 10_000 });
    expect(config.tokens).toEqual({ kind: "development", keyFile: "/tmp/tr-data/dev-jwt-secret" });
    expect(config.port).toBe(3000);
    expect(config.queue).toEqual({ kind: "memory" });
    expect(config.worker).toEqual({
      inApi: true,
      concurrency: 2,
      leaseMs: 30_000,
      maxAttempts: 5,
      shutdownGraceMs: 25_000,
      sweepIntervalMs: 60_000,
    });
  });

  it("turns telemetry on only when an OTEL_* variable names a destination or METRICS=prometheus", () => {
    expect(loadConfig({}).telemetry).toEqual({ traces: false, metrics: "off" });
    expect(loadConfig({ OTEL_SERVICE_NAME: "x", OTEL_TRACES_SAMPLER: "always_on" }).telemetry).toEqual({
      traces: false,
      metrics: "off",
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).telemetry).toEqual({
      traces: true,
      metrics: "env",
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }).telemetry).toEqual({
      traces: true,
      metrics: "off",
    });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: "otlp" }).telemetry).toEqual({ traces: true, metrics: "off" });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }).telemetry,
    ).toEqual({ traces: false, metrics: "env" });
    expect(loadConfig({ METRICS: "prometheus" }).telemetry).toEqual({ traces: false, metrics: "prometheus" });
    expect(
      loadConfig({ METRICS: "prometheus", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).telemetry,
    ).toEqual({ traces: true, metrics: "prometheus" });
    expect(
      loadConfig({ OTEL_SDK_DISABLED: "TRUE", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).telemetry,
    ).toEqual({ traces: false, metrics: "off" });
    expect(() => loadConfig({ METRICS: "statsd" })).toThrow(/METRICS must be prometheus/);
    expect(() => loadConfig({ METRICS: "prometheus", OTEL_SDK_DISABLED: "true" })).toThrow(
      /OTEL_SDK_DISABLED=true turns off/,
    );
  });

  it("takes report jobs from a shared queue with no worker in the API process unless asked", () => {
    const shared = loadConfig({ QUEUE_URL: "postgres://postgres@127.0.0.1:5432/test" });
    expect(shared.queue).toEqual({
      kind: "postgres",
      url: "postgres://postgres@127.0.0.1:5432/test",
      schema: "tenant_reports_jobs",
    });
    expect(shared.worker.inApi).toBe(false);
    const both = loadConfig({
      QUEUE_URL: "postgresql://db/reports",
      QUEUE_NAMESPACE: "jobs_a",
      API_WORKER: "true",
      WORKER_CONCURRENCY: "4",
      REPORT_LEASE_MS: "2000",
      SHUTDOWN_GRACE_MS: "0",
    });
    expect(both.queue).toMatchObject({ kind: "postgres", schema: "jobs_a" });
    expect(both.worker).toMatchObject({ inApi: true, concurrency: 4, leaseMs: 2_000, shutdownGraceMs: 0 });
  });

  it("picks the tiered cache (L1 memory, L2 Redis, invalidations over Redis) for tiered+redis://", () => {
    expect(loadConfig({ CACHE_URL: "tiered+redis://127.0.0.1:6379/1", CACHE_NAMESPACE: "tr" }).cache).toEqual(
      {
        kind: "tiered",
        url: "redis://127.0.0.1:6379/1",
        namespace: "tr",
        maxEntries: 10_000,
      },
    );
    expect(loadConfig({ CACHE_URL: "tiered+rediss://cache.example:6380" }).cache).toMatchObject({
      kind: "tiered",
      url: "rediss://cache.example:6380",
    });
    expect(() => loadConfig({ CACHE_URL: "tiered+memcached://x" })).toThrow(/CACHE_URL must start with/);
  });

  it("names the broker of each queue adapter by its URL scheme", () => {
    expect(loadConfig({ QUEUE_URL: "nats://127.0.0.1:4222", QUEUE_NAMESPACE: "reports-a" }).queue).toEqual({
      kind: "nats",
      servers: "nats://127.0.0.1:4222",
      namespace: "reports-a",
    });
    expect(loadConfig({ QUEUE_URL: "redis://127.0.0.1:6379/2" }).queue).toEqual({
      kind: "redis",
      url: "redis://127.0.0.1:6379/2",
      namespace: "tenant-reports-jobs",
    });
    expect(
      loadConfig({ QUEUE_URL: "amqps://u:p@mq.example/vhost", CACHE_URL: "redis://127.0.0.1:6379" }).queue,
    ).toEqual({ kind: "rabbitmq", url: "amqps://u:p@mq.example/vhost", prefix: "tenant-reports" });
  });

  it("refuses a worker-less API on the memory queue, unknown queues and out-of-range worker settings", () => {
    let caught: unknown;
    try {
      loadConfig({ API_WORKER: "false", WORKER_CONCURRENCY: "0", REPORT_LEASE_MS: "500" });
    } catch (error) {
      caught = error;
    }
    const problems = (caught as ConfigurationError).problems.join("\n");
    for (const name of ["API_WORKER=false needs a QUEUE_URL", "WORKER_CONCURRENCY", "REPORT_LEASE_MS"])
      expect(problems).toContain(name);
    expect(() => loadConfig({ QUEUE_URL: "kafka://broker:9092" })).toThrow(/QUEUE_URL must start with/);
    expect(() => loadConfig({ QUEUE_URL: "amqp://guest:guest@127.0.0.1:5672" })).toThrow(
      /amqp:\/\/ keeps the queue's shared state in Redis: set CACHE_URL/,
    );
    expect(() => loadConfig({ API_WORKER: "yes", QUEUE_URL: "postgres://db/x" })).toThrow(
      /API_WORKER must be/,
    );
  });

  it("selects adapters from URLs", () => {
    const config = loadConfig({
      DATABASE_URL: "mysql://root@127.0.0.1:3306/test",
      STORAGE_URL: "s3://reports?endpoint=http://127.0.0.1:9000&forcePathStyle=true&region=auto",
      CACHE_URL: "redis://127.0.0.1:6379",
      JWT_SECRET: "x".repeat(32),
      JWT_ISSUER: "https://id.example",
      AWS_ACCESS_KEY_ID: "key",
      AWS_SECRET_ACCESS_KEY: "secret",
    });
    expect(config.database).toEqual({ kind: "mysql", url: "mysql://root@127.0.0.1:3306/test" });
    expect(config.storage).toMatchObject({
      kind: "s3",
      bucket: "reports",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      region: "auto",
    });
    expect(config.cache).toMatchObject({ kind: "redis", url: "redis://127.0.0.1:6379" });
    expect(config.tokens).toMatchObject({ kind: "secret", issuer: "https://id.example" });
  });

  it("reports every problem at once, naming the variable", () => {
    let caught: unknown;
    try {
      loadConfig({
        DATABASE_URL: "oracle://db",
        STORAGE_URL: "r2://",
        CACHE_URL: "memcached://x",
        JWT_SECRET: "short",
        PORT: "http",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    const problems = (caught as ConfigurationError).problems.join("\n");
    for (const name of ["DATABASE_URL", "STORAGE_URL", "R2_ACCESS_KEY_ID", "CACHE_URL", "JWT_SECRET", "PORT"])
      expect(problems).toContain(name);
  });
});
