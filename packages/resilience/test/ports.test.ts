import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { PGlite } from "@electric-sql/pglite";
import { createLocalFileManager } from "@proj/adapter-local-fs";
import { createMemoryTenantRepository, createMemoryTokenAuthority } from "@proj/adapter-memory";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import {
  createChaos,
  withChaosLocalFileManager,
  withChaosReportGenerator,
  withChaosSqlDatabase,
  withChaosTenantRepository,
  withChaosTokenDecoder,
} from "@proj/chaos";
import { expectErrorCode, sleep, uniqueName } from "@proj/contract-tests";
import {
  InfrastructureError,
  isInfrastructureError,
  type ReportDefinition,
  type SqlDatabase,
  sql,
} from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createResiliencePolicy,
  idempotent,
  type ResilienceOptions,
  withResilienceLocalFileManager,
  withResilienceReportGenerator,
  withResilienceSqlDatabase,
  withResilienceTenantRepository,
  withResilienceTokenDecoder,
} from "../src/index.js";

const BASE: ResilienceOptions = {
  retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5, budget: false },
  timeoutMs: false,
  circuitBreaker: false,
};

describe("SqlDatabase (PGlite)", () => {
  const engine = new PGlite("memory://");
  const opened: SqlDatabase[] = [];
  beforeAll(() => engine.waitReady, 120_000);
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
  });
  afterAll(() => engine.close());

  /** A fresh schema with ten rows, the adapter under chaos under the policy. */
  async function database(
    rules: Parameters<typeof createChaos>[0]["rules"],
    options: ResilienceOptions = BASE,
  ) {
    const inner = createPgliteDatabase({ pglite: engine, schema: uniqueName("res") });
    opened.push(inner);
    await inner.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)`);
    await inner.insertMany(
      "items",
      ["id", "label"],
      Array.from({ length: 10 }, (_, i) => [i + 1, `item ${i + 1}`]),
    );
    const chaos = createChaos({ seed: 3, rules });
    const policy = createResiliencePolicy(options);
    return {
      inner,
      chaos,
      policy,
      db: withResilienceSqlDatabase(withChaosSqlDatabase(inner, chaos), policy),
    };
  }

  const count = async (db: SqlDatabase) =>
    Number((await db.queryOne<{ n: number }>(sql`SELECT COUNT(*)::int AS n FROM items`))?.n);

  it("never retries a statement the caller did not mark idempotent, and retries one marked", async () => {
    const { inner, chaos, db } = await database([
      { ports: "sql", operations: "execute", error: "UNAVAILABLE", phase: "after", times: 1 },
      { ports: "sql", operations: "execute", keys: "UPDATE*", error: "UNAVAILABLE", times: 1 },
    ]);
    // The insert ran, its answer was lost: a retry would insert a second row (here: a CONFLICT).
    await expectErrorCode(
      db.execute(sql`INSERT INTO items (id, label) VALUES (${11}, ${"new"})`),
      "UNAVAILABLE",
    );
    expect(await count(inner)).toBe(11);
    expect(chaos.injectedCount).toBe(1);
    const update = idempotent(sql`UPDATE items SET label = ${"same"} WHERE id = ${1}`);
    expect((await db.execute(update)).affectedRows).toBe(1);
    expect(chaos.injectedCount).toBe(2);
  });

  it("retries query only when marked, or when told every query is a read", async () => {
    const rules = [{ ports: "sql" as const, operations: "query", error: "UNAVAILABLE" as const, times: 1 }];
    const strict = await database(rules);
    await expectErrorCode(strict.db.query(sql`SELECT id FROM items`), "UNAVAILABLE");
    expect(await strict.db.query(idempotent(sql`SELECT id FROM items WHERE id = ${1}`))).toEqual([{ id: 1 }]);
    const inner = createPgliteDatabase({ pglite: engine, schema: uniqueName("res") });
    opened.push(inner);
    const chaos = createChaos({ seed: 1, rules });
    const assuming = withResilienceSqlDatabase(withChaosSqlDatabase(inner, chaos), BASE, {
      assumeQueriesIdempotent: true,
    });
    expect(await assuming.query(sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
    expect(chaos.injectedCount).toBe(1);
  });

  it("retries a stream that fails before its first row, and delivers every row once", async () => {
    const { chaos, db } = await database([
      { ports: "sql", operations: "stream", error: "UNAVAILABLE", times: 2 },
    ]);
    const ids: number[] = [];
    for await (const row of db.stream<{ id: number }>(idempotent(sql`SELECT id FROM items ORDER BY id`), {
      batchSize: 3,
    }))
      ids.push(row.id);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(chaos.injectedCount).toBe(2);
  });

  it("never retries a stream that fails after rows were delivered", async () => {
    const { chaos, db } = await database([
      { ports: "sql", operations: "stream", error: "UNAVAILABLE", phase: "after", times: 1 },
    ]);
    const ids: number[] = [];
    const error = await (async () => {
      for await (const row of db.stream<{ id: number }>(idempotent(sql`SELECT id FROM items ORDER BY id`)))
        ids.push(row.id);
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isInfrastructureError(error, "UNAVAILABLE")).toBe(true);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(chaos.injectedCount).toBe(1);
  });

  it("a stream's deadline ends at its first row, and aborts the stream when it runs out", async () => {
    const { chaos, db } = await database(
      [{ ports: "sql", operations: "stream", latencyMs: 5_000, times: 1 }],
      {
        ...BASE,
        retry: false,
        timeoutMs: 1_000,
      },
    );
    const statement = idempotent(sql`SELECT id FROM items ORDER BY id`);
    await expectErrorCode(
      (async () => {
        for await (const _ of db.stream(statement)) break;
      })(),
      "TIMEOUT",
    );
    expect(chaos.injections[0]?.cancelled).toBe(true);
    // A slow consumer is not the database: rows read long after the deadline still come.
    const ids: number[] = [];
    for await (const row of db.stream<{ id: number }>(statement, { batchSize: 2 })) {
      ids.push(row.id);
      await sleep(150);
    }
    expect(ids).toHaveLength(10);
  });

  it("holds a bulkhead slot while a stream is read, and frees it when the loop ends or breaks", async () => {
    const { db, policy } = await database([], { ...BASE, bulkhead: { maxConcurrent: 1 } });
    const statement = idempotent(sql`SELECT id FROM items ORDER BY id`);
    for await (const _ of db.stream(statement)) {
      expect(policy.stats().running).toBe(1);
      await expectErrorCode(db.ping(), "RESOURCE_EXHAUSTED");
      break;
    }
    expect(policy.stats().running).toBe(0);
    let rows = 0;
    for await (const _ of db.stream(statement)) rows++;
    expect(rows).toBe(10);
    expect(policy.stats().running).toBe(0);
    await db.ping();
  });

  it("never retries a transaction, and what its work throws never opens the breaker", async () => {
    const { chaos, db, policy } = await database(
      [{ ports: "sql", operations: "transaction", error: "UNAVAILABLE", times: 1 }],
      { ...BASE, circuitBreaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } },
    );
    await expectErrorCode(
      db.transaction(async (tx) => tx.execute(sql`DELETE FROM items`)),
      "UNAVAILABLE",
    );
    expect(chaos.injectedCount).toBe(1);
    for (let i = 0; i < 3; i++)
      await expectErrorCode(
        db.transaction(async () => {
          throw new InfrastructureError("UNAVAILABLE", "the work's other backend is down");
        }),
        "UNAVAILABLE",
      );
    expect(policy.stats().circuit).toBe("closed");
    expect(await count(db)).toBe(10);
  });
});

describe("TenantRepository", () => {
  it("retries reads, never a create whose reply was lost", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [
        { operations: "getById", error: "UNAVAILABLE", times: 2 },
        { operations: "create", error: "TIMEOUT", phase: "after", times: 1 },
      ],
    });
    const inner = createMemoryTenantRepository();
    const tenants = withResilienceTenantRepository(withChaosTenantRepository(inner, chaos), BASE);
    await expectErrorCode(tenants.create({ slug: "acme", name: "Acme", plan: "pro" }), "TIMEOUT");
    const { items } = await inner.list();
    expect(items.map((tenant) => tenant.slug)).toEqual(["acme"]);
    expect((await tenants.getById(items[0]?.id ?? "")).slug).toBe("acme");
    expect(chaos.injectedCount).toBe(3);
  });
});

describe("TokenDecoder", () => {
  it("retries a key source that failed, never a refusal", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "decode", error: "UNAVAILABLE", times: 1 }],
    });
    const { issuer, decoder } = createMemoryTokenAuthority();
    const tokens = withResilienceTokenDecoder(withChaosTokenDecoder(decoder, chaos), BASE);
    const token = await issuer.issue({ subject: "user-1" });
    expect((await tokens.decode(token)).subject).toBe("user-1");
    expect(chaos.injectedCount).toBe(1);
    const refusing = createChaos({ seed: 1, rules: [{ operations: "decode", error: "UNAUTHENTICATED" }] });
    const refused = withResilienceTokenDecoder(withChaosTokenDecoder(decoder, refusing), BASE);
    await expectErrorCode(refused.decode(token), "UNAUTHENTICATED");
    expect(refusing.injectedCount).toBe(1);
  });
});

describe("LocalFileManager", () => {
  it("retries a write of bytes and a read, never a write of a stream", async () => {
    const root = await fs.mkdtemp(join(tmpdir(), "resilience-files-"));
    try {
      const chaos = createChaos({
        seed: 1,
        rules: [
          { operations: "write", keys: "a.txt", error: "UNAVAILABLE", times: 1 },
          { operations: "read", error: "UNAVAILABLE", times: 1 },
          { operations: "write", keys: "b.txt", error: "UNAVAILABLE" },
        ],
      });
      const files = withResilienceLocalFileManager(
        withChaosLocalFileManager(createLocalFileManager({ root }), chaos),
        BASE,
      );
      await files.write("a.txt", "bytes");
      expect(Buffer.from(await files.read("a.txt")).toString()).toBe("bytes");
      expect(chaos.injectedCount).toBe(2);
      await expectErrorCode(files.write("b.txt", Readable.from([Buffer.from("stream")])), "UNAVAILABLE");
      expect(chaos.injectedCount).toBe(3);
      expect(await files.exists("b.txt")).toBe(false);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe("ReportGenerator", () => {
  const definition = (rows: Iterable<Record<string, unknown>>): ReportDefinition => ({
    sheets: [{ name: "Data", columns: [{ header: "N", key: "n", type: "integer" }], rows }],
  });
  const sink = () =>
    new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    });

  it("never retries a generation, and destroys the output of one the bulkhead refused", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "generate", error: "UNAVAILABLE", times: 1 }],
    });
    const policy = createResiliencePolicy({ ...BASE, bulkhead: { maxConcurrent: 1 } });
    const reports = withResilienceReportGenerator(
      withChaosReportGenerator(createOpenReportGenerator(), chaos),
      policy,
    );
    await expectErrorCode(reports.generate(definition([{ n: 1 }]), sink(), { format: "csv" }), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(1);
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slowRows() {
      yield { n: 1 };
      await gate;
    }
    const running = reports.generate(definition(slowRows() as never), sink(), { format: "csv" });
    const refusedOutput = sink();
    await expectErrorCode(
      reports.generate(definition([{ n: 2 }]), refusedOutput, { format: "csv" }),
      "RESOURCE_EXHAUSTED",
    );
    expect(refusedOutput.destroyed).toBe(true);
    release();
    expect((await running).rowCount).toBe(1);
  });

  it("never counts what the rows throw as a failure of the generator", async () => {
    const policy = createResiliencePolicy({
      ...BASE,
      circuitBreaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 },
    });
    const reports = withResilienceReportGenerator(createOpenReportGenerator(), policy);
    function* failingRows(): Generator<Record<string, unknown>> {
      yield { n: 1 };
      throw new InfrastructureError("UNAVAILABLE", "the rows' database is down");
    }
    for (let i = 0; i < 3; i++)
      await expectErrorCode(
        reports.generate(definition(failingRows()), sink(), { format: "csv" }),
        "UNAVAILABLE",
      );
    expect(policy.stats().circuit).toBe("closed");
  });
});
