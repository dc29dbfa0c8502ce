import type {
  Cache,
  DocumentDatabase,
  JobQueue,
  LocalFileManager,
  ObjectStorage,
  ReportGenerator,
  SqlDatabase,
  TenantRepository,
  TokenDecoder,
} from "@proj/ports";
import { instrumentCache } from "./cache.js";
import { instrumentDocumentDatabase } from "./documents.js";
import { instrumentJobQueue, type JobQueueInstrumentOptions } from "./jobs.js";
import { instrumentLocalFileManager } from "./local-files.js";
import { instrumentObjectStorage } from "./object-storage.js";
import { instrumentReportGenerator } from "./reports.js";
import { instrumentSqlDatabase, type SqlInstrumentOptions } from "./sql.js";
import type { InstrumentOptions } from "./telemetry.js";
import { instrumentTenantRepository } from "./tenants.js";
import { instrumentTokenDecoder } from "./tokens.js";

/** The ports `instrument` decorates, by the name it takes them under. */
export interface InstrumentablePorts {
  cache: Cache;
  objectStorage: ObjectStorage;
  sqlDatabase: SqlDatabase;
  documentDatabase: DocumentDatabase;
  localFileManager: LocalFileManager;
  tenantRepository: TenantRepository;
  reportGenerator: ReportGenerator;
  tokenDecoder: TokenDecoder;
  jobQueue: JobQueue;
}

/** The options `instrument` takes for each port. */
export interface InstrumentOptionsOf {
  cache: InstrumentOptions;
  objectStorage: InstrumentOptions;
  sqlDatabase: SqlInstrumentOptions;
  documentDatabase: InstrumentOptions;
  localFileManager: InstrumentOptions;
  tenantRepository: InstrumentOptions;
  reportGenerator: InstrumentOptions;
  tokenDecoder: InstrumentOptions;
  jobQueue: JobQueueInstrumentOptions;
}

/** Which port an adapter implements; a TypeScript interface leaves no trace at run time to tell. */
export type PortName = keyof InstrumentablePorts;

const DECORATORS: {
  [K in PortName]: (port: InstrumentablePorts[K], options?: InstrumentOptionsOf[K]) => InstrumentablePorts[K];
} = {
  cache: instrumentCache,
  objectStorage: instrumentObjectStorage,
  sqlDatabase: instrumentSqlDatabase,
  documentDatabase: instrumentDocumentDatabase,
  localFileManager: instrumentLocalFileManager,
  tenantRepository: instrumentTenantRepository,
  reportGenerator: instrumentReportGenerator,
  tokenDecoder: instrumentTokenDecoder,
  jobQueue: instrumentJobQueue,
};

/**
 * Decorates `adapter` as the port named by `port`: `instrument("cache", cache)` is
 * `instrumentCache(cache)`. For configuration-driven composition; the `instrument…` functions
 * say the same with one word less. An unknown port name is a `TypeError`.
 */
export function instrument<K extends PortName>(
  port: K,
  adapter: InstrumentablePorts[K],
  options?: InstrumentOptionsOf[K],
): InstrumentablePorts[K] {
  if (!Object.hasOwn(DECORATORS, port)) throw new TypeError(`instrument: unknown port ${String(port)}`);
  const decorate = DECORATORS[port] as (
    adapter: InstrumentablePorts[K],
    options?: InstrumentOptionsOf[K],
  ) => InstrumentablePorts[K];
  return decorate(adapter, options);
}
