import { type SqlQuery, sql } from "@proj/ports";
import { type Connection, createConnection, type TypeCast } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MysqlDatabase } from "../src/index.js";
import { booleanColumns, readBooleans } from "../src/mysql-values.js";
import { MYSQL_URI, openScratch } from "./support.js";

/**
 * How the adapter read values up to 0.1.x: mysql2's defaults under the adapter's settings, plus a
 * `typeCast` function reading TINYINT(1) as boolean. The adapter now reads BOOLEAN from the
 * column metadata instead; every value must come back exactly as this reference reads it.
 */
const reference: TypeCast = (field, next) => {
  if (field.type !== "TINY" || field.length !== 1) return next();
  const value: unknown = next();
  return value === null ? null : Number(value) !== 0;
};

const COLUMNS = `id INTEGER PRIMARY KEY, b BOOLEAN NULL, bu TINYINT(1) UNSIGNED NULL, t TINYINT NULL,
  t2 TINYINT(2) NULL, s SMALLINT NULL, i INTEGER NULL, big BIGINT NULL, ubig BIGINT UNSIGNED NULL,
  amount DECIMAL(12,3) NULL, f FLOAT NULL, d DOUBLE NULL, at DATETIME(3) NULL, ts TIMESTAMP(3) NULL,
  day DATE NULL, tm TIME NULL, yr YEAR NULL, doc JSON NULL, bytes BLOB NULL, vb VARBINARY(8) NULL,
  label VARCHAR(20) NULL, kind ENUM('a','b') NULL, bit1 BIT(1) NULL`;

const ROWS = `
  (1, TRUE, 1, 1, 1, 1, 1, 9007199254740993, 18446744073709551615, 1.5, 1.5, 2.25,
   '2024-02-29 23:59:58.123', '2024-02-29 23:59:58.123', '2024-02-29', '12:34:56', 2024,
   '{"a":[1,true,null],"big":12345678901234567890}', x'00ff', x'01', 'one', 'a', b'1'),
  (2, FALSE, 0, 0, 0, 0, 0, -1, 0, -0.001, 0, 0, '1970-01-01 00:00:00', '1970-01-01 00:00:01',
   '1970-01-01', '-838:59:59', 1901, '[]', x'', x'', '', 'b', b'0'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, -1, 255, -128, 99, -32768, 2147483647, 0, 1, 999999999.999, -3.5, 1e300,
   '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999', '9999-12-31', '00:00:00', 2155,
   '"text"', x'7f', x'ffff', 'ünïcødé 😀', 'a', b'1'),
  (5, 2, 7, 127, -99, 32767, -2147483648, -9223372036854775808, 9223372036854775808, 0, 0, -0,
   '2000-01-01 00:00:00.5', '2000-01-01 00:00:00.5', '2000-01-01', '23:59:59', 2000,
   'null', x'', x'00', 'x', NULL, b'0')`;

/** The same statements, answered by the adapter and by raw mysql2 with the reference reading. */
const STATEMENTS: Array<[string, (id: number) => SqlQuery, (id: number) => [string, number[]]]> = [
  [
    "every column (prepared, bound)",
    (id) => sql`SELECT * FROM typed WHERE id >= ${id} ORDER BY id`,
    (id) => ["SELECT * FROM typed WHERE id >= ? ORDER BY id", [id]],
  ],
  [
    "every column (text protocol)",
    () => sql`SELECT * FROM typed ORDER BY id`,
    () => ["SELECT * FROM typed ORDER BY id", []],
  ],
  [
    "expressions and literals",
    (id) =>
      sql`SELECT TRUE AS yes, FALSE AS no, id = ${id} AS eq, CAST(b AS SIGNED) AS n, b + 0 AS plus,
        COALESCE(b, FALSE) AS coalesced, IF(b, 'y', 'n') AS iffed, NOT b AS negated
        FROM typed ORDER BY id`,
    (id) => [
      `SELECT TRUE AS yes, FALSE AS no, id = ? AS eq, CAST(b AS SIGNED) AS n, b + 0 AS plus,
        COALESCE(b, FALSE) AS coalesced, IF(b, 'y', 'n') AS iffed, NOT b AS negated
        FROM typed ORDER BY id`,
      [id],
    ],
  ],
  [
    "two columns of one name, a BOOLEAN last",
    (id) => sql`SELECT t2 AS x, b AS x, id FROM typed WHERE id >= ${id} ORDER BY id`,
    (id) => ["SELECT t2 AS x, b AS x, id FROM typed WHERE id >= ? ORDER BY id", [id]],
  ],
  [
    "two columns of one name, a BOOLEAN first",
    (id) => sql`SELECT b AS x, t2 AS x, bu AS y, b AS y FROM typed WHERE id >= ${id} ORDER BY id`,
    (id) => ["SELECT b AS x, t2 AS x, bu AS y, b AS y FROM typed WHERE id >= ? ORDER BY id", [id]],
  ],
  [
    "a join and aggregates",
    (id) =>
      sql`SELECT a.b, MAX(c.b) AS most, COUNT(*) AS n, SUM(c.i) AS total FROM typed a JOIN typed c
        ON c.id >= a.id WHERE a.id >= ${id} GROUP BY a.id, a.b ORDER BY a.id`,
    (id) => [
      `SELECT a.b, MAX(c.b) AS most, COUNT(*) AS n, SUM(c.i) AS total FROM typed a JOIN typed c
        ON c.id >= a.id WHERE a.id >= ? GROUP BY a.id, a.b ORDER BY a.id`,
      [id],
    ],
  ],
];

describe("BOOLEAN read from the column metadata", () => {
  let db: MysqlDatabase;
  let name: string;
  let dispose: () => Promise<void>;
  let raw: Connection;

  beforeAll(async () => {
    ({ db, name, dispose } = await openScratch({ poolSize: 2 }));
    raw = await createConnection({
      uri: `${MYSQL_URI}/${name}`,
      timezone: "Z",
      supportBigNumbers: true,
      bigNumberStrings: true,
      decimalNumbers: false,
      dateStrings: false,
      typeCast: reference,
    });
    await raw.query("SET time_zone = '+00:00'");
    await raw.query(`CREATE TABLE typed (${COLUMNS})`);
    await raw.query(`INSERT INTO typed VALUES ${ROWS}`);
    await raw.query(`CREATE PROCEDURE two_sets(IN low INTEGER)
      BEGIN
        SELECT id, b, t2 FROM typed WHERE id >= low ORDER BY id;
        SELECT b AS flag, label FROM typed WHERE id < low ORDER BY id;
      END`);
  });
  afterAll(async () => {
    await raw?.end();
    await dispose();
  });

  it.each(STATEMENTS)(
    "%s: query, transaction and stream read what a BOOLEAN typeCast read",
    async (_, ours, theirs) => {
      for (const id of [1, 3]) {
        const [text, values] = theirs(id);
        const [expected] = values.length > 0 ? await raw.execute(text, values) : await raw.query(text);
        expect((expected as unknown[]).length).toBeGreaterThan(0);
        expect(await db.query(ours(id))).toEqual(expected);
        expect(await db.transaction((tx) => tx.query(ours(id)))).toEqual(expected);
        const streamed: unknown[] = [];
        for await (const row of db.stream(ours(id), { batchSize: 2 })) streamed.push(row);
        expect(streamed).toEqual(expected);
      }
    },
  );

  it("reads BOOLEAN and TINYINT(1) as booleans, NULL as null, and wider TINYINTs as numbers", async () => {
    const rows = await db.query<Record<string, unknown>>(sql`SELECT id, b, bu, t, t2 FROM typed ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, b: true, bu: true, t: 1, t2: 1 },
      { id: 2, b: false, bu: false, t: 0, t2: 0 },
      { id: 3, b: null, bu: null, t: null, t2: null },
      { id: 4, b: true, bu: true, t: -128, t2: 99 },
      { id: 5, b: true, bu: true, t: 127, t2: -99 },
    ]);
    const [one] = await db.query(sql`SELECT b FROM typed WHERE id = ${2}`);
    expect(one).toEqual({ b: false });
  });

  it("reads booleans in every result set of a CALL", async () => {
    const [expected] = await raw.query("CALL two_sets(3)");
    const answer = await db.query(sql`CALL two_sets(${3})`);
    expect(answer).toEqual(expected);
    expect((answer as unknown[])[0]).toEqual([
      { id: 3, b: null, t2: null },
      { id: 4, b: true, t2: 99 },
      { id: 5, b: true, t2: -99 },
    ]);
    expect((answer as unknown[])[1]).toEqual([
      { flag: true, label: "one" },
      { flag: false, label: "" },
    ]);
  });

  it("leaves values untouched when no column is a boolean, and refuses nothing it does not know", () => {
    expect(booleanColumns([])).toBeUndefined();
    expect(
      booleanColumns([
        { name: "a", columnType: 1, columnLength: 4 },
        { name: "b", columnType: 3, columnLength: 1 },
      ]),
    ).toBeUndefined();
    expect(
      booleanColumns([
        { name: "a", columnType: 1, columnLength: 1 },
        { name: "a", columnType: 1, columnLength: 4 },
        { name: "c", columnType: 1, columnLength: 1 },
      ]),
    ).toEqual(["c"]);
    const header = { affectedRows: 1 };
    readBooleans(header, undefined);
    expect(header).toEqual({ affectedRows: 1 });
    const rows = [{ a: 1 }];
    readBooleans(rows, [{ name: "a", columnType: 1, columnLength: 1 }]);
    expect(rows).toEqual([{ a: true }]);
  });

  it("leaves the mysql2 pool (the escape hatch) with mysql2's own reading: BOOLEAN as a number", async () => {
    const [rows] = await db.pool.query(`SELECT b FROM \`${name}\`.typed WHERE id <= 2 ORDER BY id`);
    expect(rows).toEqual([{ b: 1 }, { b: 0 }]);
  });
});
