import { sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { countRows, createItems, itemIds, range, type SqlContractContext } from "./context.js";

const HOSTILE_VALUES = [
  "'; DROP TABLE items; --",
  '" OR 1=1 --',
  "` OR 1=1 --",
  "\\'; DELETE FROM items; --",
  "?",
  "$1",
  "line\nbreak\ttab\\backslash",
  "",
  "ünïcödé ✓ 🐘",
];

export function bindingTests({ db }: SqlContractContext): void {
  describe("parameters and identifiers", () => {
    it("binds values in the order they appear, including inside nested fragments", async () => {
      await createItems(db(), [1, 2, 3, 4, 5]);
      const lower = sql`id >= ${2}`;
      const rows = await db().query<{ id: number }>(
        sql`SELECT id FROM items WHERE ${lower} AND id <= ${4} AND label <> ${"item 3"} ORDER BY id`,
      );
      expect(rows.map((row) => row.id)).toEqual([2, 4]);
    });

    it("binds the same value twice as two parameters", async () => {
      await createItems(db(), [1, 2]);
      const id = 2;
      const rows = await db().query(sql`SELECT id FROM items WHERE id = ${id} OR id = ${id}`);
      expect(rows).toHaveLength(1);
    });

    it("sql.in matches any of the listed values", async () => {
      await createItems(db(), [1, 2, 3, 4]);
      const rows = await db().query<{ id: number }>(
        sql`SELECT id FROM items WHERE id IN ${sql.in([1, 3, 99])} ORDER BY id`,
      );
      expect(rows.map((row) => row.id)).toEqual([1, 3]);
    });

    it("sql.in of an empty list matches no row", async () => {
      await createItems(db(), [1, 2]);
      expect(await db().query(sql`SELECT id FROM items WHERE id IN ${sql.in([])}`)).toEqual([]);
    });

    it("binds a thousand parameters in one statement", async () => {
      await createItems(db(), [1, 500, 1000]);
      const rows = await db().query(sql`SELECT id FROM items WHERE id IN ${sql.in(range(1000))}`);
      expect(rows).toHaveLength(3);
    });

    it("sql.join builds a multi-row VALUES list", async () => {
      await createItems(db());
      const values = [1, 2, 3].map((id) => sql`(${id}, ${`row ${id}`})`);
      await db().execute(sql`INSERT INTO items (id, label) VALUES ${sql.join(values)}`);
      expect(await itemIds(db())).toEqual([1, 2, 3]);
    });

    it("a question mark or $1 inside a string literal of the text is not a placeholder", async () => {
      await createItems(db(), [1]);
      const row = await db().queryOne<{ q: string; d: string; label: string }>(
        sql`SELECT '?' AS q, '$1' AS d, label FROM items WHERE id = ${1}`,
      );
      expect(row).toEqual({ q: "?", d: "$1", label: "item 1" });
    });

    it("stores hostile strings as data: quotes, comments and placeholders change nothing", async () => {
      await createItems(db());
      for (const [index, value] of HOSTILE_VALUES.entries()) {
        await db().execute(
          sql`INSERT INTO items (id, label, note) VALUES (${index}, ${"hostile"}, ${value})`,
        );
      }
      const rows = await db().query<{ note: string }>(sql`SELECT note FROM items ORDER BY id`);
      expect(rows.map((row) => row.note)).toEqual(HOSTILE_VALUES);
      for (const value of HOSTILE_VALUES) {
        const match = await db().query(sql`SELECT id FROM items WHERE note = ${value}`);
        expect(match, `lookup by ${JSON.stringify(value)}`).toHaveLength(1);
      }
      expect(await countRows(db(), "items")).toBe(HOSTILE_VALUES.length);
    });

    it("a value that looks like SQL never widens a WHERE clause", async () => {
      await createItems(db(), [1, 2, 3]);
      const rows = await db().query(sql`SELECT id FROM items WHERE label = ${"x' OR '1'='1"}`);
      expect(rows).toEqual([]);
    });

    it("quotes identifiers, so a hostile table or column name is just a name", async () => {
      await createItems(db(), [1]);
      const table = 'odd"name`; DROP TABLE items; --';
      const column = 'col"umn` --';
      await db().execute(sql`CREATE TABLE ${sql.id(table)} (${sql.id(column)} VARCHAR(20))`);
      await db().execute(sql`INSERT INTO ${sql.id(table)} (${sql.id(column)}) VALUES (${"kept"})`);
      const rows = await db().query(sql`SELECT ${sql.id(column)} FROM ${sql.id(table)}`);
      expect(rows).toEqual([{ [column]: "kept" }]);
      expect(await countRows(db(), "items")).toBe(1);
    });

    it("keeps the case of a quoted identifier", async () => {
      await db().execute(sql`CREATE TABLE ${sql.id("CamelTable")} (${sql.id("CamelColumn")} INTEGER)`);
      await db().execute(sql`INSERT INTO ${sql.id("CamelTable")} (${sql.id("CamelColumn")}) VALUES (${1})`);
      expect(await db().query(sql`SELECT * FROM ${sql.id("CamelTable")}`)).toEqual([{ CamelColumn: 1 }]);
    });
  });
}
