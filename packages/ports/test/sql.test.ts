import { describe, expect, it } from "vitest";
import {
  InfrastructureError,
  isInfrastructureError,
  mysqlDialect,
  postgresDialect,
  renderSql,
  SQL_ISOLATION_LEVELS,
  type SqlIsolationLevel,
  SqlQuery,
  sql,
  sqlIsolationLevel,
  validateSqlChannel,
} from "../src/index.js";

describe("sql tag", () => {
  it("binds every interpolated value as a parameter, numbered for PostgreSQL", () => {
    const slug = "acme'; DROP TABLE tenants; --";
    const rendered = renderSql(sql`SELECT * FROM t WHERE slug = ${slug} AND n > ${3}`, postgresDialect);
    expect(rendered).toEqual({ text: "SELECT * FROM t WHERE slug = $1 AND n > $2", values: [slug, 3] });
  });

  it("renders question marks for MySQL", () => {
    const rendered = renderSql(sql`UPDATE t SET a = ${1} WHERE b = ${"x"}`, mysqlDialect);
    expect(rendered).toEqual({ text: "UPDATE t SET a = ? WHERE b = ?", values: [1, "x"] });
  });

  it("quotes identifiers per dialect, doubling embedded quote characters", () => {
    const query = sql`SELECT ${sql.id('we"ird`name')} FROM ${sql.id("app", "tenants")}`;
    expect(renderSql(query, postgresDialect).text).toBe('SELECT "we""ird`name" FROM "app"."tenants"');
    expect(renderSql(query, mysqlDialect).text).toBe('SELECT `we"ird``name` FROM `app`.`tenants`');
  });

  it("inlines nested queries and keeps parameter order", () => {
    const filter = sql`a = ${1} AND b = ${2}`;
    const rendered = renderSql(sql`SELECT 1 WHERE ${filter} OR c = ${3}`, postgresDialect);
    expect(rendered).toEqual({ text: "SELECT 1 WHERE a = $1 AND b = $2 OR c = $3", values: [1, 2, 3] });
  });

  it("expands sql.in to a parameter list and an empty list to (NULL)", () => {
    expect(renderSql(sql`x IN ${sql.in(["a", "b"])}`, postgresDialect)).toEqual({
      text: "x IN ($1, $2)",
      values: ["a", "b"],
    });
    expect(renderSql(sql`x IN ${sql.in([])}`, postgresDialect)).toEqual({ text: "x IN (NULL)", values: [] });
  });

  it("joins parts with a separator", () => {
    const columns = sql.join(["a", "b"].map((name) => sql.id(name)));
    expect(renderSql(sql`SELECT ${columns}`, mysqlDialect).text).toBe("SELECT `a`, `b`");
  });

  it("treats a value that is itself SQL-looking text as a value", () => {
    const rendered = renderSql(sql`SELECT ${"1; SELECT 2"}`, postgresDialect);
    expect(rendered.values).toEqual(["1; SELECT 2"]);
    expect(rendered.text).toBe("SELECT $1");
  });

  it("rejects empty, over-long and NUL identifiers with INVALID_ARGUMENT", () => {
    for (const bad of ["", "a".repeat(64), "a\0b"]) {
      expect(() => sql.id(bad)).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    expect(() => sql.id()).toThrow(InfrastructureError);
  });

  it("recognises queries by marker", () => {
    expect(SqlQuery.isInstance(sql`SELECT 1`)).toBe(true);
    expect(SqlQuery.isInstance({ segments: [] })).toBe(false);
  });
});

describe("sqlIsolationLevel", () => {
  const cases: [level: string, expected: string][] = [
    ["read committed", "READ COMMITTED"],
    ["repeatable read", "REPEATABLE READ"],
    ["serializable", "SERIALIZABLE"],
    ["SERIALIZABLE", "SERIALIZABLE"],
    ["read uncommitted", "INVALID_ARGUMENT"],
    ["serializable; DROP TABLE t", "INVALID_ARGUMENT"],
    ["", "INVALID_ARGUMENT"],
  ];
  for (const [level, expected] of cases) {
    it(`gives ${expected} for ${JSON.stringify(level)}`, () => {
      const run = () => sqlIsolationLevel(level as SqlIsolationLevel);
      if (expected === "INVALID_ARGUMENT") {
        expect(() => run()).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      } else expect(run()).toBe(expected);
    });
  }

  it("accepts every level the port lists, and refuses a non-string", () => {
    for (const level of SQL_ISOLATION_LEVELS) expect(sqlIsolationLevel(level)).toBe(level.toUpperCase());
    let error: unknown;
    try {
      sqlIsolationLevel(3 as unknown as SqlIsolationLevel);
    } catch (caught) {
      error = caught;
    }
    expect(isInfrastructureError(error, "INVALID_ARGUMENT")).toBe(true);
  });
});

describe("sql tag, exactly", () => {
  it("sql.unsafe inlines its text as text, with no parameter", () => {
    expect(renderSql(sql`CREATE ${sql.unsafe("TEMPORARY")} TABLE t`, mysqlDialect)).toEqual({
      text: "CREATE TEMPORARY TABLE t",
      values: [],
    });
  });

  it("keeps each part in its own kind: text, bound value, identifier", () => {
    expect(sql`a${1}`.segments).toEqual([
      { kind: "text", text: "a" },
      { kind: "value", value: 1 },
    ]);
    expect(sql`${sql.id("t")}`.segments).toEqual([{ kind: "identifier", names: ["t"] }]);
  });

  it("takes identifiers of exactly 63 characters, and refuses a name that is not a string", () => {
    expect(renderSql(sql`${sql.id("a".repeat(63))}`, postgresDialect).text).toBe(`"${"a".repeat(63)}"`);
    for (const bad of [["a"], { length: 1, includes: () => false }, 7]) {
      expect(() => sql.id(bad as never)).toThrowError(
        expect.objectContaining({
          code: "INVALID_ARGUMENT",
          message: "SQL identifier must be 1 to 63 characters with no NUL",
        }),
      );
    }
    expect(() => sql.id()).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT", message: "sql.id needs at least one name" }),
    );
  });

  it("isInstance is false for null and for a plain object", () => {
    expect(SqlQuery.isInstance(null)).toBe(false);
    expect(SqlQuery.isInstance(undefined)).toBe(false);
    expect(SqlQuery.isInstance("SELECT 1")).toBe(false);
  });

  it("an unknown isolation level is INVALID_ARGUMENT, not retryable, and names the level", () => {
    expect(() => sqlIsolationLevel("chaos" as SqlIsolationLevel)).toThrowError(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        retryable: false,
        message: "unknown isolation level chaos",
      }),
    );
  });
});

describe("validateSqlChannel", () => {
  it("accepts 1 to 63 UTF-8 bytes and returns the name unchanged", () => {
    expect(validateSqlChannel("jobs.reports")).toBe("jobs.reports");
    expect(validateSqlChannel("x".repeat(63))).toBe("x".repeat(63));
  });

  it("refuses empty, NUL, non-string and over-63-byte names (multi-byte characters counted in bytes)", () => {
    for (const bad of ["", "a\0b", "x".repeat(64), "é".repeat(32), 42 as unknown as string]) {
      expect(() => validateSqlChannel(bad)).toThrowError(
        expect.objectContaining({ code: "INVALID_ARGUMENT", retryable: false }),
      );
    }
  });
});
