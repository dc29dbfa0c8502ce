import type { PortWrappers } from "@proj/decorator-contracts";
import {
  type ChaosOptions,
  createChaos,
  withChaosCache,
  withChaosDocumentDatabase,
  withChaosJobQueue,
  withChaosLocalFileManager,
  withChaosObjectStorage,
  withChaosReportGenerator,
  withChaosSqlDatabase,
  withChaosTenantRepository,
  withChaosTokenDecoder,
} from "../../src/index.js";

/**
 * Rules that match every call of every port (so every call draws and decides) at rate 0: the
 * decorator is on the path of every call and must change nothing.
 */
const silent: ChaosOptions = {
  seed: "contract",
  rules: [
    { name: "latency", rate: 0, latencyMs: [5, 50] },
    { name: "unavailable", rate: 0, error: "UNAVAILABLE" },
    { name: "lost reply", rate: 0, error: { code: "TIMEOUT", outcome: "unknown" }, phase: "after" },
    { name: "keyed", rate: 0, keys: "*", error: "INTERNAL" },
  ],
};
const chaos = () => createChaos(silent);

/** Each port of the memory adapters, wrapped for the contract runs. */
export const decorated: PortWrappers = {
  cache: (inner) => withChaosCache(inner, chaos()),
  objectStorage: (inner) => withChaosObjectStorage(inner, chaos()),
  sql: (inner) => withChaosSqlDatabase(inner, chaos()),
  documents: (inner) => withChaosDocumentDatabase(inner, chaos()),
  localFiles: (inner) => withChaosLocalFileManager(inner, chaos()),
  tenants: (inner) => withChaosTenantRepository(inner, chaos()),
  reports: (inner) => withChaosReportGenerator(inner, chaos()),
  tokens: (inner) => withChaosTokenDecoder(inner, chaos()),
  jobs: (inner) => withChaosJobQueue(inner, chaos()),
};

export const LABEL = "through chaos at rate 0";
