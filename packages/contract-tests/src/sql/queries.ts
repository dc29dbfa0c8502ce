import { sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { countRows, createItems, itemIds, type SqlContractContext } from "./context.js";

export function queryTests({ db }: SqlContractContext): void {
  describe("query, queryOne, execute", () => {
    it("query returns every row as an object keyed by column name", async () => {
      await createItems(db(), [1, 2, 3]);
      const rows = await db().query<{ id: number; label: string }>(
        sql`SELECT id, label FROM items ORDER BY id`,
      );
      expect(rows).toEqual([
        { id: 1, label: "item 1" },
        { id: 2, label: "item 2" },
        { id: 3, label: "item 3" },
      ]);
    });

    it("query returns an empty array when no row matches", async () => {
      await createItems(db(), [1]);
      expect(await db().query(sql`SELECT id FROM items WHERE id = ${99}`)).toEqual([]);
    });

    it("keeps the case of a quoted column alias", async () => {
      await createItems(db(), [1]);
      const row = await db().queryOne(sql`SELECT id AS ${sql.id("MixedCase")} FROM items`);
      expect(row).toEqual({ MixedCase: 1 });
    });

    it("queryOne returns the first row", async () => {
      await createItems(db(), [1, 2]);
      const row = await db().queryOne<{ id: number }>(sql`SELECT id FROM items ORDER BY id DESC`);
      expect(row).toEqual({ id: 2 });
    });

    it("queryOne returns undefined when there is no row", async () => {
      await createItems(db());
      expect(await db().queryOne(sql`SELECT id FROM items`)).toBeUndefined();
    });

    it("execute reports the rows inserted, updated and deleted", async () => {
      await createItems(db(), [1, 2, 3]);
      const inserted = await db().execute(
        sql`INSERT INTO items (id, label) VALUES (${4}, ${"four"}), (${5}, ${"five"})`,
      );
      expect(inserted.affectedRows).toBe(2);
      const updated = await db().execute(sql`UPDATE items SET label = ${"changed"} WHERE id <= ${2}`);
      expect(updated.affectedRows).toBe(2);
      const deleted = await db().execute(sql`DELETE FROM items WHERE id = ${3}`);
      expect(deleted.affectedRows).toBe(1);
      const none = await db().execute(sql`DELETE FROM items WHERE id = ${99}`);
      expect(none.affectedRows).toBe(0);
      expect(await itemIds(db())).toEqual([1, 2, 4, 5]);
    });

    it("execute runs DDL and reports no affected rows", async () => {
      const result = await db().execute(sql`CREATE TABLE ddl_only (id INTEGER)`);
      expect(result.affectedRows).toBe(0);
      expect(await countRows(db(), "ddl_only")).toBe(0);
    });

    it("query of a statement that returns no rows resolves to an empty array", async () => {
      await createItems(db(), [1]);
      expect(await db().query(sql`UPDATE items SET label = ${"x"} WHERE id = ${1}`)).toEqual([]);
      expect(await db().queryOne<{ label: string }>(sql`SELECT label FROM items`)).toEqual({ label: "x" });
    });

    it("runs concurrent calls on the database and returns each its own rows", async () => {
      await createItems(db(), [1, 2, 3, 4, 5, 6]);
      const ids = [1, 2, 3, 4, 5, 6];
      const rows = await Promise.all(
        ids.map((id) => db().queryOne<{ id: number }>(sql`SELECT id FROM items WHERE id = ${id}`)),
      );
      expect(rows.map((row) => row?.id)).toEqual(ids);
    });

    it("exposes the dialect it renders for", () => {
      expect(["postgres", "mysql"]).toContain(db().dialect.name);
      expect(typeof db().capabilities.returning).toBe("boolean");
    });
  });

  describe("INSERT ... RETURNING", () => {
    it("matches capabilities.returning: returns the inserted rows when declared, else refuses with NOT_SUPPORTED", async () => {
      await createItems(db());
      const inserting = db().query<{ id: number; label: string }>(
        sql`INSERT INTO items (id, label) VALUES (${7}, ${"seven"}) RETURNING id, label`,
      );
      if (db().capabilities.returning) {
        expect(await inserting).toEqual([{ id: 7, label: "seven" }]);
        expect(await itemIds(db())).toEqual([7]);
      } else {
        await expectErrorCode(inserting, "NOT_SUPPORTED");
        expect(await itemIds(db())).toEqual([]);
      }
    });
  });
}
