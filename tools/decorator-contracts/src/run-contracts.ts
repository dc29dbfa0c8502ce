import { createHmac, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { createLocalFileManager } from "@proj/adapter-local-fs";
import {
  createMemoryDocumentDatabase,
  createMemoryJobQueue,
  createMemoryObjectStorage,
  createMemoryTenantRepository,
  createMemoryTokenAuthority,
} from "@proj/adapter-memory";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createMemoryCache } from "@proj/cache-memory";
import {
  cacheContract,
  documentDatabaseContract,
  jobQueueContract,
  localFileManagerContract,
  objectStorageContract,
  reportGeneratorContract,
  sqlDatabaseContract,
  tenantRepositoryContract,
  tokenDecoderContract,
  uniqueName,
} from "@proj/contract-tests";
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
import { sql } from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { afterAll, beforeAll } from "vitest";
import { readXlsx } from "./read-xlsx.js";

/** How a decorator package wraps each port for the contract runs. */
export interface PortWrappers {
  cache(inner: Cache): Cache;
  objectStorage(inner: ObjectStorage): ObjectStorage;
  sql(inner: SqlDatabase): SqlDatabase;
  documents(inner: DocumentDatabase): DocumentDatabase;
  localFiles(inner: LocalFileManager): LocalFileManager;
  tenants(inner: TenantRepository): TenantRepository;
  reports(inner: ReportGenerator): ReportGenerator;
  tokens(inner: TokenDecoder): TokenDecoder;
  jobs(inner: JobQueue): JobQueue;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * Every port's contract suite, unchanged, over the memory adapters (PGlite for SQL, a local folder
 * for files, openreport for reports), each adapter wrapped by `wrap` on its way to the suite.
 */
export function runContracts(
  label: string,
  wrap: PortWrappers,
  ports: readonly (keyof PortWrappers)[] = Object.keys(wrap) as (keyof PortWrappers)[],
): void {
  const runs = (port: keyof PortWrappers) => ports.includes(port);
  if (runs("cache"))
    cacheContract(`cache-memory ${label}`, {
      capabilities: {
        shared: false,
        staleWhileRevalidate: true,
        tags: true,
        batchWrites: true,
        memberSets: true,
      },
      create: async () => wrap.cache(createMemoryCache({ maxEntries: 10_000 })),
      createWithDefaultTtl: async (defaultTtlMs) =>
        wrap.cache(createMemoryCache({ maxEntries: 10_000, defaultTtlMs })),
      createBounded: async (maxEntries) => wrap.cache(createMemoryCache({ maxEntries })),
      valuesOutsideJson: "kept",
    });

  if (runs("objectStorage"))
    objectStorageContract(`memory ${label}`, {
      create: async () => wrap.objectStorage(createMemoryObjectStorage()),
      capabilities: { signedUrls: false, conditionalPut: true, rangeReads: true },
    });

  if (runs("documents"))
    documentDatabaseContract(`memory ${label}`, {
      create: async () => wrap.documents(createMemoryDocumentDatabase()),
      transactions: true,
    });

  if (runs("tenants"))
    tenantRepositoryContract(`memory ${label}`, {
      create: async () => wrap.tenants(createMemoryTenantRepository()),
    });

  if (runs("tokens"))
    tokenDecoderContract(`memory ${label}`, {
      capabilities: { signsRawTokens: true, checksType: true },
      create: async () => {
        const secret = randomBytes(32);
        const { issuer, decoder } = createMemoryTokenAuthority({ secret, maxTokenBytes: 4096 });
        return {
          issuer,
          decoder: wrap.tokens(decoder),
          untrustedIssuer: createMemoryTokenAuthority().issuer,
          maxTokenBytes: 4096,
          async signRaw(claims, header = {}) {
            const input = `${b64({ alg: "HS256", typ: "JWT", ...header })}.${b64(claims)}`;
            return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
          },
        };
      },
    });

  if (runs("localFiles"))
    localFileManagerContract(`local-fs ${label}`, {
      create: async () =>
        wrap.localFiles(
          createLocalFileManager({ root: await fs.mkdtemp(join(tmpdir(), "decorated-files-")) }),
        ),
      destroy: async (manager) => {
        await manager.close();
        await fs.rm(manager.root, { recursive: true, force: true });
      },
    });

  if (runs("reports"))
    reportGeneratorContract(`openreport ${label}`, {
      formats: ["xlsx", "csv"],
      create: () => wrap.reports(createOpenReportGenerator()),
      readBack: (bytes) => readXlsx(bytes),
    });

  if (runs("jobs"))
    jobQueueContract(`memory ${label}`, {
      create: async () => wrap.jobs(createMemoryJobQueue()),
      resolutionMs: 100,
    });

  if (!runs("sql")) return;
  // One PGlite engine for the file (it takes seconds to start); a schema per test.
  const engine = new PGlite("memory://");
  const admin = createPgliteDatabase({ pglite: engine });
  const schemas = new WeakMap<SqlDatabase, string>();
  beforeAll(() => engine.waitReady, 120_000);
  afterAll(async () => {
    await admin.close();
    await engine.close();
  });
  const session = { acquireTimeoutMs: 1_000 };
  sqlDatabaseContract(`PGlite ${label}`, {
    poolSize: 1,
    ...session,
    cancelsRunningStatements: false,
    notifications: true,
    create: async () => {
      const schema = uniqueName("deco");
      const db = wrap.sql(createPgliteDatabase({ pglite: engine, schema, ...session }));
      schemas.set(db, schema);
      return db;
    },
    destroy: async (db) => {
      await db.close();
      const schema = schemas.get(db);
      if (schema !== undefined) await admin.execute(sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`);
    },
  });
}
