import { InfrastructureError, sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { countRows, createItems, range, type SqlContractContext, sleepQuery } from "./context.js";

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function errorTests({ db, harness }: SqlContractContext): void {
  /** Proves the connections a failed call used went back to the pool in working order. */
  async function expectPoolHealthy(): Promise<void> {
    const rows = await Promise.all(
      range(harness.poolSize * 2 + 1).map(() => db().query(sql`SELECT id FROM items`)),
    );
    expect(rows).toHaveLength(harness.poolSize * 2 + 1);
  }

  describe("error mapping", () => {
    it("a unique violation is CONFLICT with the SQLSTATE (class 23) and the driver error as cause", async () => {
      await createItems(db(), [1]);
      const error = await expectErrorCode(
        db().execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"again"})`),
        "CONFLICT",
      );
      expect(error).toBeInstanceOf(InfrastructureError);
      expect(String(error.details.sqlState)).toMatch(/^23/);
      expect(error.cause).toBeDefined();
      expect(error.retryable).toBe(false);
    });

    it("a foreign key violation is CONFLICT", async () => {
      await createItems(db(), [1]);
      await db().execute(
        sql`CREATE TABLE child (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL,
            FOREIGN KEY (item_id) REFERENCES items (id))`,
      );
      await db().execute(sql`INSERT INTO child (id, item_id) VALUES (${1}, ${1})`);
      const error = await expectErrorCode(
        db().execute(sql`INSERT INTO child (id, item_id) VALUES (${2}, ${42})`),
        "CONFLICT",
      );
      expect(String(error.details.sqlState)).toMatch(/^23/);
      await expectErrorCode(db().execute(sql`DELETE FROM items WHERE id = ${1}`), "CONFLICT");
    });

    it("a syntax error is INVALID_ARGUMENT with the SQLSTATE", async () => {
      const error = await expectErrorCode(db().query(sql`SELEC 1`), "INVALID_ARGUMENT");
      expect(String(error.details.sqlState)).toMatch(SQLSTATE);
      expect(error.cause).toBeDefined();
    });

    it("an unknown table is INVALID_ARGUMENT", async () => {
      const error = await expectErrorCode(db().query(sql`SELECT * FROM no_such_table`), "INVALID_ARGUMENT");
      expect(String(error.details.sqlState)).toMatch(SQLSTATE);
    });

    it("an unknown column is INVALID_ARGUMENT", async () => {
      await createItems(db());
      await expectErrorCode(db().query(sql`SELECT no_such_column FROM items`), "INVALID_ARGUMENT");
    });

    it("a value too long for its column is INVALID_ARGUMENT", async () => {
      await db().execute(sql`CREATE TABLE narrow (code VARCHAR(5))`);
      await expectErrorCode(
        db().execute(sql`INSERT INTO narrow (code) VALUES (${"much too long"})`),
        "INVALID_ARGUMENT",
      );
      expect(await countRows(db(), "narrow")).toBe(0);
    });

    it("a missing NOT NULL value is INVALID_ARGUMENT", async () => {
      await createItems(db());
      await expectErrorCode(
        db().execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${null})`),
        "INVALID_ARGUMENT",
      );
    });

    it("a failed statement leaves the pool usable", async () => {
      await createItems(db(), [1]);
      for (let round = 0; round < harness.poolSize + 2; round += 1) {
        await expectErrorCode(db().query(sql`SELECT * FROM no_such_table`), "INVALID_ARGUMENT");
      }
      await expectPoolHealthy();
    });
  });

  describe("time limits and cancellation", () => {
    const cannotStop = harness.cancelsRunningStatements === false;

    it.skipIf(cannotStop)(
      "a statement past timeoutMs is stopped early and rejects with TIMEOUT",
      async () => {
        await createItems(db());
        const started = Date.now();
        const error = await expectErrorCode(db().query(sleepQuery(db(), 10), { timeoutMs: 300 }), "TIMEOUT");
        expect(Date.now() - started).toBeLessThan(8_000);
        expect(error.retryable).toBe(true);
        await expectPoolHealthy();
      },
    );

    it("a statement within timeoutMs completes normally", async () => {
      await createItems(db(), [1]);
      expect(await db().query(sql`SELECT id FROM items`, { timeoutMs: 10_000 })).toEqual([{ id: 1 }]);
    });

    it.skipIf(cannotStop)("timeoutMs applies inside a transaction, which then rolls back", async () => {
      await createItems(db());
      const outcome = db().transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"doomed"})`);
        await tx.query(sleepQuery(tx, 10), { timeoutMs: 300 });
      });
      await expectErrorCode(outcome, "TIMEOUT");
      expect(await countRows(db(), "items")).toBe(0);
    });

    it.skipIf(cannotStop)(
      "aborting a running statement rejects with CANCELLED well before it would end",
      async () => {
        await createItems(db());
        const controller = new AbortController();
        const started = Date.now();
        setTimeout(() => controller.abort(), 300);
        await expectErrorCode(db().query(sleepQuery(db(), 10), { signal: controller.signal }), "CANCELLED");
        expect(Date.now() - started).toBeLessThan(8_000);
        await expectPoolHealthy();
      },
    );

    it.skipIf(cannotStop)("an AbortSignal.timeout that fires is TIMEOUT", async () => {
      await createItems(db());
      await expectErrorCode(
        db().query(sleepQuery(db(), 10), { signal: AbortSignal.timeout(300) }),
        "TIMEOUT",
      );
      await expectPoolHealthy();
    });

    it("an already-aborted signal rejects with CANCELLED and runs nothing", async () => {
      await createItems(db());
      await expectErrorCode(
        db().execute(sql`INSERT INTO items (id, label) VALUES (${1}, ${"never"})`, {
          signal: AbortSignal.abort(),
        }),
        "CANCELLED",
      );
      expect(await countRows(db(), "items")).toBe(0);
    });
  });
}
