import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { expectErrorCode, uniqueName } from "@proj/contract-tests";
import { type SqlDatabase, sql } from "@proj/ports";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { instrumentSqlDatabase } from "../src/index.js";
import { isChildOf, TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
const SECRET = "pa55w0rd-in-a-bound-param";
const schema = uniqueName("otel_sql");
const plain = createPgliteDatabase({ schema });
let db: SqlDatabase;

beforeAll(async () => {
  await plain.execute(sql`CREATE TABLE kv (id INTEGER PRIMARY KEY, label TEXT NOT NULL)`);
  await plain.execute(sql`INSERT INTO kv SELECT g, 'label ' || g FROM generate_series(1, 10) g`);
  db = instrumentSqlDatabase(plain, { ...telemetry.options, recordQueryText: true });
}, 120_000);
beforeEach(() => telemetry.reset());
afterAll(async () => {
  await plain.close();
  await telemetry.shutdown();
});

describe("instrumentSqlDatabase", () => {
  it("names a statement's span by its summary, with the database conventions' attributes", async () => {
    const rows = await db.query(sql`SELECT id, label FROM kv WHERE id <= ${3} ORDER BY id`);
    expect(rows).toHaveLength(3);
    const span = telemetry.one("SELECT kv");
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toEqual({
      "db.system.name": "postgresql",
      "db.operation.name": "SELECT",
      "db.collection.name": "kv",
      "db.query.summary": "SELECT kv",
      "db.query.text": "SELECT id, label FROM kv WHERE id <= $1 ORDER BY id",
      "db.response.returned_rows": 3,
      "proj.port": "SqlDatabase",
      "proj.method": "query",
    });
  });

  it("records placeholders, never the bound values, and no query text unless asked", async () => {
    await db.queryOne(sql`SELECT id FROM kv WHERE label = ${SECRET}`);
    const quiet = instrumentSqlDatabase(plain, telemetry.options);
    await quiet.queryOne(sql`SELECT id FROM kv WHERE label = ${SECRET}`);
    const [withText, withoutText] = telemetry.named("SELECT kv");
    expect(withText?.attributes["db.query.text"]).toBe("SELECT id FROM kv WHERE label = $1");
    expect(withText?.attributes["db.response.returned_rows"]).toBe(0);
    expect(withoutText?.attributes["db.query.text"]).toBeUndefined();
    expect(JSON.stringify(telemetry.spans().map((span) => span.attributes))).not.toContain(SECRET);
  });

  it("counts rows changed by execute and inserted by insertMany", async () => {
    await db.insertMany(
      "kv",
      ["id", "label"],
      [
        [101, "a"],
        [102, "b"],
      ],
    );
    await db.execute(sql`UPDATE kv SET label = ${"c"} WHERE id > ${100}`);
    await db.execute(sql`DELETE FROM kv WHERE id > ${100}`);
    expect(telemetry.one("INSERT kv").attributes).toMatchObject({
      "db.operation.name": "INSERT",
      "db.collection.name": "kv",
      "proj.db.affected_rows": 2,
      "proj.method": "insertMany",
    });
    expect(telemetry.one("UPDATE kv").attributes["proj.db.affected_rows"]).toBe(2);
    expect(telemetry.one("DELETE kv").attributes["proj.db.affected_rows"]).toBe(2);
  });

  it("records a failure's taxonomy code as error.type and its SQLSTATE as db.response.status_code", async () => {
    await expectErrorCode(db.execute(sql`INSERT INTO kv (id, label) VALUES (${1}, ${SECRET})`), "CONFLICT");
    const span = telemetry.one("INSERT kv");
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes["error.type"]).toBe("CONFLICT");
    expect(span.attributes["db.response.status_code"]).toBe("23505");
    expect(span.status.message).toBeUndefined();
  });

  it("keeps a stream's span open until its last row, with the row count", async () => {
    const ids: number[] = [];
    for await (const row of db.stream<{ id: number }>(sql`SELECT id FROM kv ORDER BY id`, { batchSize: 3 }))
      ids.push(row.id);
    expect(ids).toHaveLength(10);
    const span = telemetry.one("SELECT kv");
    expect(span.attributes).toMatchObject({
      "proj.method": "stream",
      "db.response.returned_rows": 10,
      "proj.stream.completed": true,
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("ends a stream's span when the loop breaks early, as not completed and not failed", async () => {
    const stream = db.stream<{ id: number }>(sql`SELECT id FROM kv ORDER BY id`, { batchSize: 2 });
    expect(telemetry.spans()).toEqual([]);
    for await (const row of stream) if (row.id === 3) break;
    const span = telemetry.one("SELECT kv");
    expect(span.attributes).toMatchObject({ "db.response.returned_rows": 3, "proj.stream.completed": false });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    // The connection was released: the next call runs.
    expect(await db.queryOne(sql`SELECT 1 AS one`)).toEqual({ one: 1 });
  });

  it("ends a failing stream's span with the error", async () => {
    const stream = db.stream(sql`SELECT 1 / (id - 5) AS x FROM kv ORDER BY id`, { batchSize: 1 });
    const error = await expectErrorCode(async () => {
      for await (const _ of stream) {
        // reading until the division by zero
      }
    }, "INVALID_ARGUMENT");
    const span = telemetry.one("SELECT kv");
    expect(span.attributes).toMatchObject({
      "error.type": error.code,
      "db.response.status_code": "22012",
      "proj.stream.completed": false,
    });
    expect(span.attributes["db.response.returned_rows"]).toBeLessThanOrEqual(4);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("nests the statements of a transaction, and of a savepoint inside it, under their spans", async () => {
    await db.transaction(
      async (tx) => {
        await tx.queryOne(sql`SELECT label FROM kv WHERE id = ${1}`);
        await tx.transaction(async (inner) => {
          await inner.execute(sql`UPDATE kv SET label = label WHERE id = ${2}`);
        });
      },
      { isolationLevel: "serializable" },
    );
    const [outer, savepoint] = telemetry
      .named("transaction")
      .sort((a, b) => (a.startTime[0] - b.startTime[0]) * 1e9 + (a.startTime[1] - b.startTime[1]));
    expect(outer?.attributes["proj.sql.isolation_level"]).toBe("serializable");
    expect(isChildOf(telemetry.one("SELECT kv"), outer!)).toBe(true);
    expect(isChildOf(savepoint!, outer!)).toBe(true);
    expect(isChildOf(telemetry.one("UPDATE kv"), savepoint!)).toBe(true);
  });

  it("records a rolled-back transaction as failed with the work's error", async () => {
    await expectErrorCode(
      db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO kv (id, label) VALUES (${1}, ${"dup"})`);
      }),
      "CONFLICT",
    );
    expect(telemetry.one("transaction").attributes["error.type"]).toBe("CONFLICT");
    expect(isChildOf(telemetry.one("INSERT kv"), telemetry.one("transaction"))).toBe(true);
  });

  it("traces ping and passes dialect and capabilities through", async () => {
    await db.ping();
    expect(telemetry.one("ping").attributes["db.operation.name"]).toBe("ping");
    expect(db.dialect).toBe(plain.dialect);
    expect(db.capabilities).toEqual(plain.capabilities);
  });

  it("records db.client.operation.duration in seconds and counts errors, by operation and table", async () => {
    const metered = instrumentSqlDatabase(plain, telemetry.options);
    await metered.queryOne(sql`SELECT label FROM kv WHERE id = ${1}`);
    await metered.queryOne(sql`SELECT label FROM kv WHERE id = ${2}`);
    await expectErrorCode(metered.execute(sql`INSERT INTO kv (id, label) VALUES (${1}, ${"x"})`), "CONFLICT");
    const metrics = await telemetry.metrics();
    const duration = metrics.find((metric) => metric.descriptor.name === "db.client.operation.duration");
    expect(duration?.descriptor.unit).toBe("s");
    const points = await telemetry.points();
    const selects = points.find(
      (point) =>
        point.name === "db.client.operation.duration" &&
        point.attributes["db.query.summary"] === "SELECT kv" &&
        point.attributes["proj.method"] === "queryOne" &&
        point.attributes["error.type"] === undefined,
    );
    expect(selects?.value).toBeGreaterThanOrEqual(2);
    expect(selects?.attributes).toMatchObject({
      "db.system.name": "postgresql",
      "db.operation.name": "SELECT",
      "db.collection.name": "kv",
    });
    expect(selects?.sum).toBeGreaterThan(0);
    expect(selects?.sum).toBeLessThan(60);
    const errors = points.find(
      (point) => point.name === "proj.operation.errors" && point.attributes["error.type"] === "CONFLICT",
    );
    expect(errors?.value).toBeGreaterThanOrEqual(1);
    expect(errors?.attributes["db.query.summary"]).toBe("INSERT kv");
  });
});
