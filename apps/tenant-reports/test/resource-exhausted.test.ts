import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { uniqueName } from "@proj/contract-tests";
import { sql } from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposedService, composeService } from "../src/composition/compose.js";
import { loadConfig } from "../src/composition/config.js";

const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * The database refuses every new connection of the service's role ("too many connections for
 * role", SQLSTATE 53300): the service is out of a resource, which is a 503, not a 429 that tells
 * the caller to slow down.
 */
describe("a backend out of resources", () => {
  const role = uniqueName("tr_exhausted");
  const database = uniqueName("tr_exhausted");
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  let dataDir: string;
  let service: ComposedService;
  let base: string;
  let token: string;

  beforeAll(async () => {
    await admin.execute(sql`CREATE ROLE ${sql.id(role)} LOGIN CONNECTION LIMIT 20`);
    await admin.execute(sql`CREATE DATABASE ${sql.id(database)} OWNER ${sql.id(role)}`);
    dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-exhausted-"));
    const url = new URL(POSTGRES_URL);
    url.username = role;
    url.pathname = `/${database}`;
    service = await composeService(loadConfig({ DATA_DIR: dataDir, DATABASE_URL: url.toString() }));
    base = await service.http.listen({ host: "127.0.0.1", port: 0 });
    token = await (service.devIssuer as NonNullable<ComposedService["devIssuer"]>).issue({
      subject: "admin",
      roles: ["admin"],
    });
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await admin.execute(sql`DROP DATABASE IF EXISTS ${sql.id(database)} WITH (FORCE)`);
    await admin.execute(sql`DROP ROLE IF EXISTS ${sql.id(role)}`);
    await admin.close();
    await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  it("answers 503 RESOURCE_EXHAUSTED with a generic message when the database refuses connections", async () => {
    // Pages are cached: each call asks for a page size not asked before, so it reaches the database.
    let limit = 0;
    const list = () =>
      fetch(`${base}/tenants?limit=${++limit}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await list()).status).toBe(200);

    await admin.execute(sql`ALTER ROLE ${sql.id(role)} CONNECTION LIMIT 0`);
    await admin.query(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${role}`);

    // The pool first drops the connections the server ended; a fresh one is then refused (53300).
    const answers: { status: number; body: { error: string; message: string } }[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await list();
      answers.push({ status: response.status, body: (await response.json()) as never });
      if (answers.at(-1)?.body.error === "RESOURCE_EXHAUSTED") break;
    }
    const exhausted = answers.find((answer) => answer.body.error === "RESOURCE_EXHAUSTED");
    expect(exhausted, JSON.stringify(answers)).toBeDefined();
    expect(exhausted?.status).toBe(503);
    expect(exhausted?.body.message).not.toMatch(/connections|role|tr_exhausted/i);
    expect(answers.every((answer) => answer.status !== 429)).toBe(true);
  });
});
