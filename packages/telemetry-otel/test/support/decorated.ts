import type { PortWrappers } from "@proj/decorator-contracts";
import { afterAll, expect, it } from "vitest";
import {
  type InstrumentOptions,
  instrumentCache,
  instrumentDocumentDatabase,
  instrumentJobQueue,
  instrumentLocalFileManager,
  instrumentObjectStorage,
  instrumentReportGenerator,
  instrumentSqlDatabase,
  instrumentTenantRepository,
  instrumentTokenDecoder,
} from "../../src/index.js";
import type { TestTelemetry } from "./telemetry.js";

/**
 * Each port of the memory adapters, instrumented for the contract runs: with a test SDK's tracer
 * and meter, or with no options at all (no SDK registered: every call passes straight through).
 * SQL records the query text, so that path runs under the contract too.
 */
export function instrumented(options?: InstrumentOptions): PortWrappers {
  return {
    cache: (inner) => instrumentCache(inner, options),
    objectStorage: (inner) => instrumentObjectStorage(inner, options),
    sql: (inner) => instrumentSqlDatabase(inner, { ...options, recordQueryText: true }),
    documents: (inner) => instrumentDocumentDatabase(inner, options),
    localFiles: (inner) => instrumentLocalFileManager(inner, options),
    tenants: (inner) => instrumentTenantRepository(inner, options),
    reports: (inner) => instrumentReportGenerator(inner, options),
    tokens: (inner) => instrumentTokenDecoder(inner, options),
    jobs: (inner) => instrumentJobQueue(inner, options),
  };
}

/**
 * Remembers which adapter each decorator wraps, so a contract harness's `destroy` (which receives
 * what `create` returned: the decorator) can clean up the adapter underneath.
 */
export class Decorated<Outer extends object, Inner> {
  readonly #inner = new WeakMap<Outer, Inner>();

  wrap(inner: Inner, decorate: (inner: Inner) => Outer): Outer {
    const outer = decorate(inner);
    this.#inner.set(outer, inner);
    return outer;
  }

  inner(outer: Outer): Inner {
    const inner = this.#inner.get(outer);
    if (inner === undefined) throw new Error("not a decorator made by this harness");
    return inner;
  }
}

/**
 * After a contract suite has run through the decorators: spans were recorded (the decorators were
 * on, not passing through), and none was left open (every operation's span ended, streams too).
 */
export function expectSpansRecordedAndClosed(telemetry: TestTelemetry, port: string): void {
  afterAll(() => {
    const open = [...telemetry.openSpans.open].map((span) => span.name);
    expect(open, "spans left open").toEqual([]);
  });
  it(`records ${port} spans while the contract runs (checked last)`, () => {
    // Runs after the suite registered before it in the same file.
    expect(telemetry.spans().some((span) => span.attributes["proj.port"] === port)).toBe(true);
  });
}
