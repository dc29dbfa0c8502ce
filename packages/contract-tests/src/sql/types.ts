import { sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import type { SqlContractContext } from "./context.js";

interface TypedRow {
  id: number;
  small: number | null;
  big: string | null;
  amount: string | null;
  flag: boolean | null;
  short: string | null;
  body: string | null;
  at: Date | null;
}

const CREATE_TYPED = sql`CREATE TABLE typed (
  id INTEGER PRIMARY KEY,
  small INTEGER NULL,
  big BIGINT NULL,
  amount DECIMAL(20, 4) NULL,
  flag BOOLEAN NULL,
  short VARCHAR(50) NULL,
  body TEXT NULL,
  at TIMESTAMP NULL
)`;

/** Whole seconds: MySQL TIMESTAMP keeps no fraction by default. */
const AT = new Date("2024-05-06T07:08:09.000Z");

export function typeTests({ db }: SqlContractContext): void {
  describe("type round-trips", () => {
    it("portable column types come back as the documented JS values", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(
        sql`INSERT INTO typed (id, small, big, amount, flag, short, body, at)
            VALUES (${1}, ${-2147483648}, ${"9223372036854775807"}, ${"1234567890123456.1234"}, ${true},
                    ${"short"}, ${"a longer text"}, ${AT})`,
      );
      const row = await db().queryOne<TypedRow>(sql`SELECT * FROM typed`);
      expect(row).toEqual({
        id: 1,
        small: -2147483648,
        big: "9223372036854775807",
        amount: "1234567890123456.1234",
        flag: true,
        short: "short",
        body: "a longer text",
        at: AT,
      });
      expect(row?.at).toBeInstanceOf(Date);
    });

    it("NULL comes back as null in every portable type", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(sql`INSERT INTO typed (id) VALUES (${1})`);
      const row = await db().queryOne<TypedRow>(sql`SELECT * FROM typed`);
      expect(row).toEqual({
        id: 1,
        small: null,
        big: null,
        amount: null,
        flag: null,
        short: null,
        body: null,
        at: null,
      });
    });

    it("binds null as SQL NULL", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(
        sql`INSERT INTO typed (id, short, flag, at) VALUES (${1}, ${null}, ${null}, ${null})`,
      );
      const row = await db().queryOne<{ n: unknown }>(
        sql`SELECT COUNT(*) AS n FROM typed WHERE short IS NULL`,
      );
      expect(Number(row?.n)).toBe(1);
    });

    it("boolean false stays false and is distinct from null", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(
        sql`INSERT INTO typed (id, flag) VALUES (${1}, ${false}), (${2}, ${true}), (${3}, ${null})`,
      );
      const rows = await db().query<{ flag: boolean | null }>(sql`SELECT flag FROM typed ORDER BY id`);
      expect(rows.map((row) => row.flag)).toEqual([false, true, null]);
      const trueRows = await db().query(sql`SELECT id FROM typed WHERE flag = ${true}`);
      expect(trueRows).toHaveLength(1);
    });

    it("BIGINT and DECIMAL keep every digit as strings; numbers bind into them", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(
        sql`INSERT INTO typed (id, big, amount) VALUES (${1}, ${"9007199254740993"}, ${12.5})`,
      );
      await db().execute(sql`INSERT INTO typed (id, big, amount) VALUES (${2}, ${-42}, ${"-0.0001"})`);
      const rows = await db().query<{ big: string; amount: string }>(
        sql`SELECT big, amount FROM typed ORDER BY id`,
      );
      expect(rows).toEqual([
        { big: "9007199254740993", amount: "12.5000" },
        { big: "-42", amount: "-0.0001" },
      ]);
    });

    it("the empty string stays a string, distinct from null", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(sql`INSERT INTO typed (id, short, body) VALUES (${1}, ${""}, ${null})`);
      expect(await db().queryOne(sql`SELECT short, body FROM typed`)).toEqual({ short: "", body: null });
    });

    it("a Date bound as a parameter matches the stored TIMESTAMP", async () => {
      await db().execute(CREATE_TYPED);
      await db().execute(sql`INSERT INTO typed (id, at) VALUES (${1}, ${AT})`);
      const rows = await db().query<{ id: number }>(sql`SELECT id FROM typed WHERE at = ${AT}`);
      expect(rows).toEqual([{ id: 1 }]);
    });

    it("text keeps multi-byte characters, newlines and long values intact", async () => {
      // TEXT holds at most 65,535 bytes on MySQL and MariaDB.
      await db().execute(CREATE_TYPED);
      const body = `ünïcödé ✓ 🐘\n${"x".repeat(60_000)}`;
      await db().execute(sql`INSERT INTO typed (id, body) VALUES (${1}, ${body})`);
      const row = await db().queryOne<{ body: string }>(sql`SELECT body FROM typed`);
      expect(row?.body).toBe(body);
    });
  });
}
