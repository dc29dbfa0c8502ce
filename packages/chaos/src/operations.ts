/** The ports chaos can decorate. */
export type ChaosPort =
  | "cache"
  | "objectStorage"
  | "sql"
  | "documents"
  | "localFiles"
  | "tenants"
  | "reports"
  | "tokens"
  | "jobs";

/**
 * The operations of each port a rule can name. `jobs.handle` is one delivery of a job to a
 * handler given to `work`: a fault there fails (or delays) the handler, as a crashing worker would.
 */
export const CHAOS_OPERATIONS: Readonly<Record<ChaosPort, readonly string[]>> = {
  cache: [
    "get",
    "set",
    "setMany",
    "has",
    "addMembers",
    "hasMember",
    "delete",
    "deletePrefix",
    "deleteByTag",
    "clear",
    "getOrSet",
    "stats",
  ],
  objectStorage: [
    "put",
    "get",
    "getBytes",
    "head",
    "exists",
    "delete",
    "deleteMany",
    "list",
    "listPage",
    "copy",
    "signedUrl",
  ],
  sql: ["ping", "query", "queryOne", "execute", "stream", "insertMany", "transaction"],
  documents: [
    "ping",
    "dropCollection",
    "transaction",
    "insertOne",
    "insertMany",
    "findById",
    "find",
    "updateOne",
    "deleteOne",
    "deleteMany",
    "count",
    "ensureIndex",
  ],
  localFiles: [
    "resolve",
    "write",
    "read",
    "createReadStream",
    "exists",
    "stat",
    "delete",
    "list",
    "withTempFile",
    "sweep",
  ],
  tenants: ["create", "getById", "getBySlug", "list", "update", "changeStatus", "delete"],
  reports: ["generate"],
  tokens: ["decode"],
  jobs: ["enqueue", "cancel", "listDeadLetters", "redrive", "handle"],
};

export const CHAOS_PORTS = Object.keys(CHAOS_OPERATIONS) as ChaosPort[];
