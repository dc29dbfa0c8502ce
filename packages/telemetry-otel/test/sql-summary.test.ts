import { sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { summarizeSql } from "../src/index.js";

const SECRET = "s3cr3t-bound-value";

describe("summarizeSql", () => {
  it.each([
    [sql`SELECT id, label FROM kv WHERE id = ${1}`, "SELECT", "kv", "SELECT kv"],
    [
      sql`select * from "Orders" o join customers c on c.id = o.customer_id`,
      "SELECT",
      "Orders",
      "SELECT Orders customers",
    ],
    [sql`SELECT * FROM a x, b AS y WHERE x.id = y.id`, "SELECT", "a", "SELECT a b"],
    [sql`INSERT INTO orders (id, note) VALUES (${1}, ${SECRET})`, "INSERT", "orders", "INSERT orders"],
    [sql`INSERT INTO shipping SELECT * FROM orders`, "INSERT", "shipping", "INSERT shipping SELECT orders"],
    [
      sql`UPDATE tenants SET name = ${SECRET}, version = version + 1 WHERE id = ${2}`,
      "UPDATE",
      "tenants",
      "UPDATE tenants",
    ],
    [
      sql`DELETE FROM ${sql.id("app", "sessions")} WHERE token = ${SECRET}`,
      "DELETE",
      "app.sessions",
      "DELETE app.sessions",
    ],
    [
      sql`CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, label TEXT)`,
      "CREATE",
      "kv",
      "CREATE TABLE kv",
    ],
    [sql`CREATE UNIQUE INDEX kv_label ON kv (label)`, "CREATE", undefined, "CREATE INDEX kv_label"],
    [sql`DROP SCHEMA IF EXISTS ${sql.id("t1")} CASCADE`, "DROP", undefined, "DROP SCHEMA t1"],
    [sql`TRUNCATE TABLE bulk`, "TRUNCATE", "bulk", "TRUNCATE bulk"],
    [sql`SELECT pg_sleep(${1}) IS NULL AS slept`, "SELECT", undefined, "SELECT"],
    [sql`SELECT g FROM generate_series(1, 10) g`, "SELECT", undefined, "SELECT"],
    [sql`SELECT EXTRACT(YEAR FROM created_at) AS y FROM events`, "SELECT", "events", "SELECT events"],
    [sql`SELECT * FROM t WHERE id IN (SELECT tid FROM u)`, "SELECT", "t", "SELECT t SELECT u"],
    [
      sql`INSERT INTO kv (id) VALUES (${1}) ON CONFLICT (id) DO UPDATE SET label = ${SECRET}`,
      "INSERT",
      "kv",
      "INSERT kv",
    ],
    [sql`SELECT * FROM kv WHERE id = ${1} FOR UPDATE`, "SELECT", "kv", "SELECT kv"],
    [sql`SELECT 'FROM secret_table' AS text, $$FROM hidden$$ AS d FROM kv`, "SELECT", "kv", "SELECT kv"],
    [sql`-- FROM comment_table\nSELECT 1 /* FROM other */ FROM kv`, "SELECT", "kv", "SELECT kv"],
    [
      sql`WITH recent AS (SELECT * FROM orders) SELECT * FROM recent`,
      "SELECT",
      "orders",
      "SELECT orders SELECT recent",
    ],
  ])("%#: summarises without values", (query, operation, collection, summary) => {
    expect(summarizeSql(query)).toEqual({ operation, collection, summary });
  });

  it("never reads a bound value, even one that looks like SQL", () => {
    const summary = summarizeSql(sql`SELECT * FROM kv WHERE label = ${`x' FROM ${SECRET} --`}`);
    expect(JSON.stringify(summary)).not.toContain(SECRET);
    expect(summary.summary).toBe("SELECT kv");
  });

  it("gives no summary for text with no statement keyword", () => {
    expect(summarizeSql(sql`${1}`)).toEqual({
      operation: undefined,
      collection: undefined,
      summary: undefined,
    });
  });

  it("caps a summary at 255 characters, cut between words", () => {
    const tables = Array.from({ length: 60 }, (_, i) => `table_number_${i}`);
    const summary = summarizeSql(sql.unsafe(`SELECT * FROM ${tables.join(", ")}`)).summary ?? "";
    expect(summary.length).toBeLessThanOrEqual(255);
    expect(summary.startsWith("SELECT table_number_0 table_number_1")).toBe(true);
    expect(tables).toContain(summary.split(" ").at(-1));
  });
});
