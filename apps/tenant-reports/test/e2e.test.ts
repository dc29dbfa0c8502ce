import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMysqlDatabase } from "@proj/adapter-mysql";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { uniqueName } from "@proj/contract-tests";
import { sql } from "@proj/ports";
import { afterAll, beforeAll } from "vitest";
// The S3-protocol test server (s3rver with the gaps it has closed) is the adapter-r2 tests' own.
import {
  LOCAL_CREDENTIALS,
  type LocalS3Server,
  startLocalS3Server,
} from "../../../packages/adapter-r2/test/support/local-s3-server.js";
import { httpSuite } from "./e2e/http-suite.js";

const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

let s3: LocalS3Server;
beforeAll(async () => {
  s3 = await startLocalS3Server();
});
afterAll(async () => {
  await s3?.close();
});

async function s3Storage() {
  const bucket = await s3.createBucket();
  const url = `s3://${bucket}?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`;
  return {
    env: {
      STORAGE_URL: url,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    },
    cleanup: () => s3.deleteBucket(bucket),
  };
}

httpSuite("embedded (PGlite in a data folder, local folder storage, memory cache)", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-e2e-"));
  return { env: { DATA_DIR: dataDir }, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
});

httpSuite("PostgreSQL (reads under row-level security) + S3-protocol server + Redis", async () => {
  const database = uniqueName("tr_e2e");
  const tenantRole = uniqueName("tr_tenant");
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  await admin.execute(sql`CREATE DATABASE ${sql.id(database)}`);
  await admin.execute(sql`CREATE ROLE ${sql.id(tenantRole)} NOLOGIN`);
  const storage = await s3Storage();
  const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-e2e-"));
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  return {
    env: {
      DATA_DIR: dataDir,
      DATABASE_URL: url.toString(),
      DATABASE_TENANT_ROLE: tenantRole,
      CACHE_URL: REDIS_URL,
      CACHE_NAMESPACE: uniqueName("tr"),
      ...storage.env,
    },
    async cleanup() {
      await storage.cleanup();
      await admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)} WITH (FORCE)`);
      await admin.execute(sql`DROP ROLE IF EXISTS ${sql.id(tenantRole)}`);
      await admin.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

httpSuite("MySQL (MariaDB) + S3-protocol server + memory cache", async () => {
  const database = uniqueName("tr_e2e");
  const admin = createMysqlDatabase({ uri: MYSQL_URL, poolSize: 1 });
  await admin.execute(sql`CREATE DATABASE ${sql.id(database)}`);
  const storage = await s3Storage();
  const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-e2e-"));
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  return {
    env: { DATA_DIR: dataDir, DATABASE_URL: url.toString(), ...storage.env },
    async cleanup() {
      await storage.cleanup();
      await admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)}`);
      await admin.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
