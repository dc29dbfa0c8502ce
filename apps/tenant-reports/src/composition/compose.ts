import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createLocalObjectStorage } from "@proj/adapter-local-fs";
import { createMemoryTokenAuthority } from "@proj/adapter-memory";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createMemoryCache } from "@proj/cache-memory";
import {
  type Cache,
  isInfrastructureError,
  type JsonValue,
  type ObjectStorage,
  type SqlDatabase,
  type TokenDecoder,
  type TokenIssuer,
} from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import {
  createCachedTenantRepository,
  createSqlTenantRepository,
  runAsTenant,
} from "@proj/repository-tenant-postgres";
import { createJwtTokenDecoder } from "@proj/security-jwt";
import type { FastifyInstance } from "fastify";
import { ReportService } from "../application/reports.js";
import { TenantAdministration } from "../application/tenant-administration.js";
import { buildHttpServer } from "../http/server.js";
import { SqlOrderStore } from "../infrastructure/sql-order-store.js";
import type { CacheConfig, DatabaseConfig, ServiceConfig, StorageConfig, TokenConfig } from "./config.js";
import { loadAdapter } from "./load-adapter.js";

/** The running service: its HTTP server and everything to close on shutdown. */
export interface ComposedService {
  readonly http: FastifyInstance;
  /** In development mode: an issuer the decoder trusts, for the printed tokens and the demo. */
  readonly devIssuer: TokenIssuer | undefined;
  readonly description: string;
  /** Closes the HTTP server, then every adapter, each once, in reverse order of opening. */
  close(): Promise<void>;
}

async function openDatabase(config: DatabaseConfig): Promise<SqlDatabase> {
  switch (config.kind) {
    case "postgres": {
      const { createPostgresDatabase } = await loadAdapter(
        "@proj/adapter-postgres",
        "DATABASE_URL (postgres://)",
        () => import("@proj/adapter-postgres"),
      );
      return createPostgresDatabase({ connectionString: config.url, applicationName: "tenant-reports" });
    }
    case "mysql": {
      const { createMysqlDatabase } = await loadAdapter(
        "@proj/adapter-mysql",
        "DATABASE_URL (mysql://)",
        () => import("@proj/adapter-mysql"),
      );
      return createMysqlDatabase({ uri: config.url });
    }
    case "pglite":
      if (config.dataDir !== undefined) await mkdir(config.dataDir, { recursive: true });
      return createPgliteDatabase({ dataDir: config.dataDir ?? "memory://" });
  }
}

async function openStorage(config: StorageConfig): Promise<ObjectStorage> {
  if (config.kind === "local") return createLocalObjectStorage({ root: config.root });
  const { createR2ObjectStorage, createS3CompatibleObjectStorage, createS3ObjectStorage } = await loadAdapter(
    "@proj/adapter-r2",
    `STORAGE_URL (${config.kind}://)`,
    () => import("@proj/adapter-r2"),
  );
  switch (config.kind) {
    case "r2":
      return createR2ObjectStorage(config);
    case "s3": {
      const credentials =
        config.accessKeyId !== undefined && config.secretAccessKey !== undefined
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined;
      if (config.endpoint === undefined) {
        return createS3ObjectStorage({
          bucket: config.bucket,
          region: config.region,
          ...(credentials ? { credentials } : {}),
        });
      }
      return createS3CompatibleObjectStorage({
        bucket: config.bucket,
        endpoint: config.endpoint,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        credentials,
        requestChecksumCalculation: config.checksums,
      });
    }
  }
}

async function openCache(config: CacheConfig): Promise<Cache<JsonValue>> {
  if (config.kind === "memory") return createMemoryCache<JsonValue>({ maxEntries: config.maxEntries });
  const { createRedisCache } = await loadAdapter(
    "@proj/cache-redis",
    "CACHE_URL (redis://)",
    () => import("@proj/cache-redis"),
  );
  return createRedisCache<JsonValue>({ url: config.url, namespace: config.namespace });
}

/** The development key lives in the data folder, made at first start, so tokens survive restarts. */
async function developmentSecret(keyFile: string): Promise<string> {
  try {
    return (await readFile(keyFile, "utf8")).trim();
  } catch {
    const secret = randomBytes(32).toString("base64url");
    await mkdir(dirname(keyFile), { recursive: true });
    await writeFile(keyFile, `${secret}\n`, { mode: 0o600, flag: "wx" }).catch(async () => undefined);
    return (await readFile(keyFile, "utf8")).trim();
  }
}

/** A cache outage shows in the log once per minute, not once per request. */
function throttledCacheWarning(consequence: string): (error: unknown) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (error) => {
    since += 1;
    const now = Date.now();
    if (now - lastAt < 60_000) return;
    const code = isInfrastructureError(error) ? error.code : "INTERNAL";
    console.warn(`tenant cache failed (${code}, ${since} time(s) since the last warning): ${consequence}`);
    lastAt = now;
    since = 0;
  };
}

/** A token issuer the development-mode decoder trusts, for a demo driving a service that already runs. */
export async function openDevelopmentIssuer(keyFile: string): Promise<TokenIssuer> {
  return createMemoryTokenAuthority({ secret: await developmentSecret(keyFile) }).issuer;
}

async function openTokens(
  config: TokenConfig,
): Promise<{ decoder: TokenDecoder; devIssuer: TokenIssuer | undefined }> {
  switch (config.kind) {
    case "development": {
      const secret = await developmentSecret(config.keyFile);
      const { issuer } = createMemoryTokenAuthority({ secret });
      return {
        decoder: createJwtTokenDecoder({ algorithms: ["HS256"], secret, cache: true }),
        devIssuer: issuer,
      };
    }
    case "secret":
      return {
        decoder: createJwtTokenDecoder({
          // RFC 7518: an HMAC key at least as long as the hash; allow only what the secret can carry.
          algorithms: (["HS256", "HS384", "HS512"] as const).filter(
            (_, i) => Buffer.byteLength(config.secret) >= [32, 48, 64][i]!,
          ),
          secret: config.secret,
          ...(config.issuer ? { issuer: config.issuer } : {}),
          ...(config.audience ? { audience: config.audience } : {}),
          cache: true,
        }),
        devIssuer: undefined,
      };
    case "jwks":
      return {
        decoder: createJwtTokenDecoder({
          algorithms: config.algorithms,
          jwksUrl: config.jwksUrl,
          issuer: config.issuer,
          audience: config.audience,
          cache: true,
        }),
        devIssuer: undefined,
      };
  }
}

/**
 * The composition root: the one place that names concrete adapters. Everything else sees ports.
 * On any failure while opening, what was already opened is closed again.
 */
export async function composeService(config: ServiceConfig): Promise<ComposedService> {
  const opened: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(resource: T): T => {
    opened.push(resource);
    return resource;
  };
  const closeAll = async () => {
    const errors: unknown[] = [];
    for (const resource of opened.splice(0).reverse())
      await resource.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, "some adapters failed to close");
  };
  try {
    const db = track(await openDatabase(config.database));
    const storage = track(await openStorage(config.storage));
    const cache = track(await openCache(config.cache));
    const { decoder, devIssuer } = await openTokens(config.tokens);
    track(decoder);
    const tenants = track(
      createCachedTenantRepository(await createSqlTenantRepository(db), cache, {
        ttlMs: 30_000,
        onCacheReadError: throttledCacheWarning("tenant reads are answered by the database"),
        onInvalidationError: throttledCacheWarning("a tenant entry may stay stale until its TTL"),
      }),
    );
    const tenantRole = config.database.kind === "postgres" ? config.database.tenantRole : undefined;
    const orders = track(
      await SqlOrderStore.open(
        db,
        tenantRole === undefined
          ? {}
          : {
              tenantRole,
              scope: (tenantId, work, options) =>
                runAsTenant(db, tenantId, work, { ...options, role: tenantRole }),
            },
      ),
    );
    const reports = new ReportService(orders, storage, createOpenReportGenerator(), tenants);
    const http = buildHttpServer(
      {
        decoder,
        administration: new TenantAdministration(tenants),
        reports,
        ...(devIssuer ? { devIssuer } : {}),
      },
      { logger: config.logRequests },
    );
    const description = `database=${config.database.kind} storage=${config.storage.kind} cache=${config.cache.kind} tokens=${config.tokens.kind}`;
    let closing: Promise<void> | undefined;
    return {
      http,
      devIssuer,
      description,
      close() {
        closing ??= http.close().then(closeAll);
        return closing;
      },
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
}
