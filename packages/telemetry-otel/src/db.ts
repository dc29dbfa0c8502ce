import type { Attributes, SpanKind } from "@opentelemetry/api";
import { ATTR } from "./attributes.js";
import type { MetricNames, Operation, Telemetry } from "./telemetry.js";

/** `db.client.operation.duration`, the semantic-convention histogram of database calls. */
export const DB_DURATION: MetricNames = {
  duration: "db.client.operation.duration",
  durationDescription: "Duration of database client operations.",
};

const DB_METRIC_KEYS = [
  ATTR.dbSystemName,
  ATTR.dbNamespace,
  ATTR.dbOperationName,
  ATTR.dbCollectionName,
] as const;

/**
 * The semantic-convention span name of a database call: `{db.query.summary}` when there is one,
 * else `{db.operation.name} {target}` with the collection (or the namespace) as target.
 */
export function dbSpanName(operation: string, collection?: string, namespace?: unknown): string {
  const target = collection ?? (typeof namespace === "string" && namespace !== "" ? namespace : undefined);
  return target === undefined ? operation : `${operation} ${target}`;
}

/** A database operation: `db.system.name` (default `system`), `db.operation.name`, port and method. */
export function dbOperation(
  telemetry: Telemetry,
  spec: { port: string; method: string; operation?: string; system: string; kind: SpanKind },
  extra?: Attributes,
): Operation {
  const operationName = spec.operation ?? spec.method;
  return telemetry.operation({
    name: dbSpanName(operationName, undefined, telemetry.userAttributes[ATTR.dbNamespace]),
    kind: spec.kind,
    port: spec.port,
    method: spec.method,
    duration: DB_DURATION.duration,
    attributes: { [ATTR.dbSystemName]: spec.system, [ATTR.dbOperationName]: operationName, ...extra },
    metricKeys: DB_METRIC_KEYS,
  });
}
