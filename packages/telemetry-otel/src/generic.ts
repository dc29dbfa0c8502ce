import type { SpanKind } from "@opentelemetry/api";
import type { MetricNames, Operation, Telemetry } from "./telemetry.js";

/**
 * `proj.operation.duration`: the histogram of ports the semantic conventions do not cover (object
 * storage, local files, tenants, reports, tokens), labelled by `proj.port` and `proj.method`.
 */
export const PORT_DURATION: MetricNames = {
  duration: "proj.operation.duration",
  durationDescription: "Duration of operations of @proj ports, by port and method.",
};

/** An operation of a port without semantic conventions: span `Port.method`, e.g. `ObjectStorage.put`. */
export function portOperation(telemetry: Telemetry, port: string, method: string, kind: SpanKind): Operation {
  return telemetry.operation({
    name: `${port}.${method}`,
    kind,
    port,
    method,
    duration: PORT_DURATION.duration,
  });
}

/** The operations of `methods`, by method name. */
export function portOperations<M extends string>(
  telemetry: Telemetry,
  port: string,
  methods: readonly M[],
  kind: SpanKind,
): Record<M, Operation> {
  return Object.fromEntries(
    methods.map((method) => [method, portOperation(telemetry, port, method, kind)]),
  ) as Record<M, Operation>;
}
