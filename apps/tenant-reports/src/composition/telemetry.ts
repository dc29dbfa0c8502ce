import { context, type Meter, metrics, propagation, type Tracer, trace } from "@opentelemetry/api";
import type { ResourceDetector } from "@opentelemetry/resources";
import type { NodeSDKConfiguration } from "@opentelemetry/sdk-node";
import { INSTRUMENTATION_SCOPE } from "@proj/telemetry-otel";
import type { TelemetryConfig } from "./config.js";
import { loadAdapter } from "./load-adapter.js";

/** The OpenTelemetry SDK of this process, started because the configuration asked for it. */
export interface Telemetry {
  readonly tracer: Tracer;
  /** Where the decorators record; the SDK's meter, or a no-op one. */
  readonly meter: Meter;
  /** The service's own instrumentation scope (`tenant-reports`): its HTTP server spans and metrics. */
  readonly http: { readonly tracer: Tracer; readonly meter: Meter };
  /** The current metrics in the Prometheus text format, with `METRICS=prometheus`. */
  readonly scrape: (() => Promise<string>) | undefined;
  /**
   * Flushes what is buffered (each exporter bounds its calls: `OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by
   * default), then unregisters the SDK. A failed export is a warning, never a failed shutdown.
   */
  shutdown(): Promise<void>;
}

/**
 * What a test puts in place of the exporters the `OTEL_*` variables would choose (an in-memory
 * span exporter, a metric reader it collects from). Production leaves this empty.
 */
export interface TelemetryOverrides {
  spanProcessors?: NodeSDKConfiguration["spanProcessors"];
  metricReaders?: NodeSDKConfiguration["metricReaders"];
}

const SERVICE_SCOPE = "tenant-reports";

/**
 * Process attributes the SDK's process detector reports that the service keeps out of its telemetry:
 * the command line can carry secrets (a password given as an argument), the owner names a user.
 */
const WITHHELD_PROCESS_ATTRIBUTES = ["process.command_args", "process.command_line", "process.owner"];

/** The SDK's process detector without `WITHHELD_PROCESS_ATTRIBUTES`. */
function withoutCommandLine(processDetector: ResourceDetector): ResourceDetector {
  return {
    detect(config) {
      const detected = processDetector.detect(config);
      const attributes = { ...detected.attributes };
      for (const name of WITHHELD_PROCESS_ATTRIBUTES) delete attributes[name];
      return { ...detected, attributes };
    },
  };
}

/** `service.name` unless the environment names the service itself. */
function serviceName(env: Record<string, string | undefined>): string | undefined {
  if (env.OTEL_SERVICE_NAME) return undefined;
  if (/(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? "")) return undefined;
  return SERVICE_SCOPE;
}

/**
 * Starts the OpenTelemetry Node SDK when the configuration turns telemetry on, and resolves with
 * undefined (having loaded nothing) when it does not. The SDK reads the standard `OTEL_*`
 * variables (exporter protocol and endpoint, headers, sampler, resource attributes); the app adds
 * the Prometheus reader behind `/metrics` and keeps the SDK from exporting what it was not asked
 * to export. Must run before the composition root decorates adapters.
 */
export async function startTelemetry(
  config: TelemetryConfig,
  overrides: TelemetryOverrides = {},
  env: Record<string, string | undefined> = process.env,
): Promise<Telemetry | undefined> {
  if (!config.traces && config.metrics === "off") return undefined;
  const chosenBy = "telemetry (OTEL_* or METRICS=prometheus)";
  const { NodeSDK } = await loadAdapter(
    "@opentelemetry/sdk-node",
    chosenBy,
    () => import("@opentelemetry/sdk-node"),
  );
  let scrape: (() => Promise<string>) | undefined;
  let metricReaders = overrides.metricReaders;
  if (config.metrics === "prometheus") {
    const { PrometheusExporter, PrometheusSerializer } = await loadAdapter(
      "@opentelemetry/exporter-prometheus",
      "METRICS=prometheus",
      () => import("@opentelemetry/exporter-prometheus"),
    );
    // A reader the /metrics route collects from: no server of its own, no second port.
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const serializer = new PrometheusSerializer();
    scrape = async () => serializer.serialize((await exporter.collect()).resourceMetrics);
    metricReaders = [exporter, ...(metricReaders ?? [])];
  }
  const name = serviceName(env);
  // The SDK's default detectors, but the process's command line and owner; an operator who lists
  // detectors in OTEL_NODE_RESOURCE_DETECTORS gets exactly those.
  let resourceDetectors: NodeSDKConfiguration["resourceDetectors"] | undefined;
  if (!env.OTEL_NODE_RESOURCE_DETECTORS) {
    const detectors = await loadAdapter(
      "@opentelemetry/resources",
      chosenBy,
      () => import("@opentelemetry/resources"),
    );
    resourceDetectors = [
      detectors.serviceInstanceIdDetector,
      withoutCommandLine(detectors.processDetector),
      detectors.hostDetector,
      detectors.osDetector,
      detectors.envDetector,
    ];
  }
  const sdk = new NodeSDK({
    ...(name === undefined ? {} : { serviceName: name }),
    ...(resourceDetectors === undefined ? {} : { resourceDetectors }),
    // Unset, the SDK would build an OTLP span exporter (to localhost:4318) and an OTLP metric
    // reader even when only the other signal was asked for: an empty list builds nothing.
    spanProcessors: overrides.spanProcessors ?? (config.traces ? undefined : []),
    metricReaders: metricReaders ?? (config.metrics === "env" ? undefined : []),
    // The service logs through Fastify's logger (pino, to stdout), not the logs API.
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer(INSTRUMENTATION_SCOPE),
    meter: metrics.getMeter(INSTRUMENTATION_SCOPE),
    http: { tracer: trace.getTracer(SERVICE_SCOPE), meter: metrics.getMeter(SERVICE_SCOPE) },
    scrape,
    async shutdown() {
      try {
        await sdk.shutdown();
      } catch (error) {
        // A collector that is down loses the last batch; the service still stops cleanly.
        const code = (error as { code?: unknown } | null)?.code;
        console.warn(
          `telemetry: the last export failed at shutdown (${typeof code === "string" ? code : "error"})`,
        );
      } finally {
        // The process-wide registrations go with the SDK, so one process can start it again.
        trace.disable();
        metrics.disable();
        propagation.disable();
        context.disable();
      }
    },
  };
}
