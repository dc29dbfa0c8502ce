import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLocalFileManager } from "@proj/adapter-local-fs";
import {
  createMemoryDocumentDatabase,
  createMemoryObjectStorage,
  createMemoryTenantRepository,
  createMemoryTokenAuthority,
} from "@proj/adapter-memory";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createMemoryCache } from "@proj/cache-memory";
import { collectBytes, uniqueName } from "@proj/contract-tests";
import { sql } from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { afterAll, describe, expect, it } from "vitest";
import {
  instrumentCache,
  instrumentDocumentDatabase,
  instrumentLocalFileManager,
  instrumentObjectStorage,
  instrumentReportGenerator,
  instrumentSqlDatabase,
  instrumentTenantRepository,
  instrumentTokenDecoder,
} from "../src/index.js";
import { exportedText, TestTelemetry } from "./support/telemetry.js";

/** Recognisable, lower-case (so it fits a tenant slug), and in every value, key, path and token below. */
const SECRET = "sekrit-7f3a9c2e";
const telemetry = new TestTelemetry();
afterAll(() => telemetry.shutdown());

/** Runs `call`, keeping its outcome out of the way: the test is about what was recorded. */
async function settle(call: () => Promise<unknown>): Promise<"ok" | "failed"> {
  try {
    await call();
    return "ok";
  } catch {
    return "failed";
  }
}

describe("no value, key, path, bound parameter or token is ever recorded", () => {
  it("through every port, on success and on failure", { timeout: 120_000 }, async () => {
    const outcomes: string[] = [];
    const note = async (what: string, call: () => Promise<unknown>) =>
      outcomes.push(`${what}:${await settle(call)}`);

    const cache = instrumentCache(createMemoryCache<unknown>({ maxEntries: 100 }), telemetry.options);
    await note("cache.set", () => cache.set(`session:${SECRET}`, { token: SECRET }));
    await note("cache.get", () => cache.get(`session:${SECRET}`));
    await note("cache.getOrSet", () => cache.getOrSet(`user:${SECRET}`, async () => SECRET));
    await note("cache.bad-key", () => cache.get(`${SECRET}\ud800`));
    await note("cache.deletePrefix", () => cache.deletePrefix(`session:${SECRET}`));
    await note("cache.tagged-set", () => cache.set(`tagged:${SECRET}`, 1, { tags: [`tag:${SECRET}`] }));
    await note("cache.deleteByTag", () => cache.deleteByTag(`tag:${SECRET}`));
    await note("cache.setMany", async () =>
      cache.setMany?.([
        { key: `many:${SECRET}`, value: SECRET, tags: [`tag:${SECRET}`] },
        { key: `many:${SECRET}:2`, value: { token: SECRET } },
      ]),
    );
    await note("cache.bad-setMany", async () =>
      cache.setMany?.([{ key: `many:${SECRET}`, value: undefined }]),
    );
    const { addMembers, hasMember } = cache as Required<typeof cache>;
    await note("cache.addMembers", () => addMembers(`members:${SECRET}`, [SECRET, `member:${SECRET}`]));
    await note("cache.hasMember", () => hasMember(`members:${SECRET}`, SECRET));
    await note("cache.bad-addMembers", () => addMembers(`members:${SECRET}`, [SECRET, `${SECRET}\ud800`]));

    const schema = uniqueName("otel_secret");
    const pglite = createPgliteDatabase({ schema });
    const db = instrumentSqlDatabase(pglite, { ...telemetry.options, recordQueryText: true });
    await note("sql.create", () =>
      db.execute(sql`CREATE TABLE users (email TEXT PRIMARY KEY, password TEXT)`),
    );
    await note("sql.insert", () => db.execute(sql`INSERT INTO users VALUES (${SECRET}, ${SECRET})`));
    await note("sql.conflict", () => db.execute(sql`INSERT INTO users VALUES (${SECRET}, ${SECRET})`));
    await note("sql.select", () => db.queryOne(sql`SELECT * FROM users WHERE password = ${SECRET}`));
    await note("sql.bad-value", () => db.execute(sql`INSERT INTO users VALUES (${[SECRET]}, ${{ SECRET }})`));
    await note("sql.stream", async () => {
      for await (const _ of db.stream(sql`SELECT * FROM users WHERE email = ${SECRET}`)) {
        // drained
      }
    });
    await note("sql.insertMany", () =>
      db.insertMany("users", ["email", "password"], [[`${SECRET}2`, SECRET]]),
    );
    await note("sql.transaction", () =>
      db.transaction(async (tx) => {
        await tx.execute(sql`UPDATE users SET password = ${SECRET} WHERE email = ${SECRET}`);
        throw new Error(`rolled back for ${SECRET}`);
      }),
    );

    const documents = instrumentDocumentDatabase(createMemoryDocumentDatabase(), telemetry.options);
    const users = documents.collection("users");
    await note("doc.insert", () => users.insertOne({ id: SECRET, email: SECRET }));
    await note("doc.conflict", () => users.insertOne({ id: SECRET, email: SECRET }));
    await note("doc.find", () => users.find({ email: SECRET }));
    await note("doc.update", () => users.updateOne({ id: SECRET }, { set: { password: SECRET } }));
    await note("doc.bad-filter", () => users.find({ [`$${SECRET}`]: 1 }));

    const storage = instrumentObjectStorage(createMemoryObjectStorage(), telemetry.options);
    await note("object.put", () =>
      storage.put(`users/${SECRET}.json`, SECRET, { metadata: { owner: SECRET } }),
    );
    await note("object.get", async () => collectBytes((await storage.get(`users/${SECRET}.json`)).body));
    await note("object.missing", () => storage.head(`missing/${SECRET}`));
    await note("object.copy", () => storage.copy(`users/${SECRET}.json`, `copy/${SECRET}`));
    await note("object.signedUrl", () =>
      storage.signedUrl(`users/${SECRET}.json`, { method: "GET", expiresInSeconds: 60 }),
    );

    const root = await fs.mkdtemp(join(tmpdir(), "telemetry-otel-secret-"));
    const files = instrumentLocalFileManager(createLocalFileManager({ root }), telemetry.options);
    await note("files.write", () => files.write(`${SECRET}/notes.txt`, SECRET));
    await note("files.read", () => files.read(`${SECRET}/notes.txt`));
    await note("files.missing", () => files.read(`${SECRET}/missing.txt`));
    await note("files.escape", () => files.read(`../${SECRET}`));

    const tenants = instrumentTenantRepository(createMemoryTenantRepository(), telemetry.options);
    await note("tenants.create", () =>
      tenants.create({ slug: SECRET, name: SECRET, plan: SECRET, settings: { key: SECRET } }),
    );
    await note("tenants.duplicate", () => tenants.create({ slug: SECRET, name: SECRET, plan: SECRET }));
    await note("tenants.missing", () => tenants.getBySlug(`x${SECRET}`));

    const { issuer, decoder } = createMemoryTokenAuthority();
    const tokens = instrumentTokenDecoder(decoder, telemetry.options);
    const token = await issuer.issue({ subject: SECRET, tenantId: SECRET, extra: { email: SECRET } });
    await note("token.accepted", () => tokens.decode(`Bearer ${token}`));
    await note("token.malformed", () => tokens.decode(`Bearer ${SECRET}.${SECRET}.${SECRET}`));
    await note("token.tampered", () => tokens.decode(`${token.slice(0, -4)}AAAA`));

    const reports = instrumentReportGenerator(createOpenReportGenerator(), telemetry.options);
    const drop = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await note("report.ok", () =>
      reports.generate(
        {
          title: SECRET,
          sheets: [
            { name: "S", columns: [{ header: SECRET, key: "v", type: "string" }], rows: [{ v: SECRET }] },
          ],
        },
        drop(),
        { format: "xlsx" },
      ),
    );
    await note("report.bad-cell", () =>
      reports.generate(
        {
          sheets: [
            { name: "S", columns: [{ header: "n", key: "v", type: "number" }], rows: [{ v: SECRET }] },
          ],
        },
        drop(),
        { format: "csv" },
      ),
    );

    await Promise.all([
      cache.close(),
      db.close(),
      documents.close(),
      storage.close(),
      files.close(),
      tenants.close(),
      tokens.close(),
    ]);
    await pglite.close();
    await fs.rm(root, { recursive: true, force: true });

    // Both paths were taken: successes and failures on every port.
    expect(outcomes.filter((outcome) => outcome.endsWith(":failed")).length).toBeGreaterThanOrEqual(15);
    expect(outcomes.filter((outcome) => outcome.endsWith(":ok")).length).toBeGreaterThanOrEqual(15);

    const spans = telemetry.spans();
    const points = await telemetry.points();
    expect(spans.length).toBeGreaterThanOrEqual(outcomes.length);
    expect(spans.filter((span) => span.attributes["error.type"] !== undefined).length).toBeGreaterThanOrEqual(
      15,
    );
    const leaks = exportedText(spans, points).filter((text) => text.toLowerCase().includes(SECRET));
    expect(leaks).toEqual([]);
  });
});
