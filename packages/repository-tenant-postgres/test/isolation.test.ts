import { uniqueName } from "@proj/contract-tests";
import { isInfrastructureError, type SqlDatabase, sql, type Tenant } from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlTenantRepository, runAsTenant } from "../src/index.js";
import { BACKENDS, type Namespace } from "./backends.js";

for (const makeBackend of [BACKENDS.postgres!, BACKENDS.pglite!]) {
  const backend = makeBackend();

  describe(`tenant isolation on ${backend.name}`, () => {
    // Policies do not apply to superusers or the table owner, which is who the pool logs in as, so
    // the work runs as an ordinary role, as an application's own database user would.
    const role = uniqueName("tenant_app");
    let namespace: Namespace;
    let single: SqlDatabase;
    let acme: Tenant;
    let globex: Tenant;

    const notesAs = (db: SqlDatabase, tenant: Tenant) =>
      runAsTenant(
        db,
        tenant.id,
        (tx) =>
          tx.query<{ tenant_id: string; body: string }>(
            sql`SELECT tenant_id, body FROM tenant_notes ORDER BY id`,
          ),
        {
          role,
        },
      );

    beforeAll(async () => {
      namespace = await backend.open(4);
      const repository = await createSqlTenantRepository(namespace.db);
      acme = await repository.create({ slug: "acme", name: "Acme", plan: "pro" });
      globex = await repository.create({ slug: "globex", name: "Globex", plan: "pro" });
      const schema = (await namespace.db.queryOne<{ s: string }>(sql`SELECT current_schema() AS s`))!.s;
      await namespace.db.execute(sql`CREATE ROLE ${sql.id(role)} NOLOGIN`);
      await namespace.db.execute(sql`GRANT USAGE ON SCHEMA ${sql.id(schema)} TO ${sql.id(role)}`);
      await namespace.db.execute(sql`GRANT SELECT, INSERT ON tenant_notes TO ${sql.id(role)}`);
      for (const [tenant, count] of [
        [acme, 30],
        [globex, 20],
      ] as const) {
        await runAsTenant(
          namespace.db,
          tenant.id,
          async (tx) => {
            for (let i = 0; i < count; i++)
              await tx.execute(
                sql`INSERT INTO tenant_notes (tenant_id, body) VALUES (${tenant.id}, ${`${tenant.slug} ${i}`})`,
              );
          },
          { role },
        );
      }
      single = namespace.connect(1);
    });

    afterAll(async () => {
      await namespace.db.execute(sql`DROP OWNED BY ${sql.id(role)}`);
      await namespace.db.execute(sql`DROP ROLE ${sql.id(role)}`);
      await namespace.drop();
      await backend.shutdown();
    });

    it("shows a tenant only its own rows", async () => {
      const acmeNotes = await notesAs(namespace.db, acme);
      expect(acmeNotes).toHaveLength(30);
      expect(new Set(acmeNotes.map((n) => n.tenant_id))).toEqual(new Set([acme.id]));
      expect((await notesAs(namespace.db, globex)).every((n) => n.tenant_id === globex.id)).toBe(true);
    });

    it("never returns another tenant's rows under many interleaved concurrent requests", async () => {
      const requests = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? acme : globex));
      const results = await Promise.all(
        requests.map(async (tenant) => ({ tenant, notes: await notesAs(namespace.db, tenant) })),
      );
      for (const { tenant, notes } of results) {
        expect(notes.length).toBe(tenant === acme ? 30 : 20);
        expect(notes.every((n) => n.tenant_id === tenant.id)).toBe(true);
      }
    });

    it("refuses to write a row for another tenant", async () => {
      let caught: unknown;
      try {
        await runAsTenant(
          namespace.db,
          acme.id,
          (tx) =>
            tx.execute(sql`INSERT INTO tenant_notes (tenant_id, body) VALUES (${globex.id}, ${"smuggled"})`),
          {
            role,
          },
        );
      } catch (error) {
        caught = error;
      }
      // The policy's WITH CHECK refuses the row: SQLSTATE 42501.
      expect(isInfrastructureError(caught, "PERMISSION_DENIED")).toBe(true);
      expect((await notesAs(namespace.db, globex)).some((n) => n.body === "smuggled")).toBe(false);
    });

    it("sees no rows at all when no tenant is set", async () => {
      const rows = await single.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL ROLE ${sql.id(role)}`);
        return tx.query(sql`SELECT * FROM tenant_notes`);
      });
      expect(rows).toEqual([]);
    });

    it("never leaks the tenant setting to the next user of a pooled connection, after commit or rollback", async () => {
      const setting = async () =>
        (
          await single.queryOne<{ tenant: string | null }>(
            sql`SELECT current_setting('app.tenant_id', true) AS tenant`,
          )
        )?.tenant ?? "";
      const roleNow = async () => (await single.queryOne<{ r: string }>(sql`SELECT current_user AS r`))?.r;
      const loginRole = await roleNow();
      await notesAs(single, acme);
      expect(await setting()).toBe("");
      expect(await roleNow()).toBe(loginRole);
      await expect(
        runAsTenant(
          single,
          globex.id,
          async () => {
            throw new Error("work failed");
          },
          { role },
        ),
      ).rejects.toThrow("work failed");
      expect(await setting()).toBe("");
    });

    it("refuses to run without a role when the login role bypasses row-level security", async () => {
      await expect(runAsTenant(namespace.db, acme.id, async () => 1)).rejects.toMatchObject({
        code: "PERMISSION_DENIED",
      });
    });

    it("rejects a tenant id that is not a UUID", async () => {
      await expect(runAsTenant(namespace.db, "acme' OR 1=1", async () => 1)).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
      });
    });
  });
}

describe("tenant isolation on MySQL", () => {
  it("is NOT_SUPPORTED: MySQL has no row-level security", async () => {
    const backend = BACKENDS.mysql!();
    const namespace = await backend.open(1);
    try {
      await expect(
        runAsTenant(namespace.db, "00000000-0000-4000-8000-000000000000", async () => 1),
      ).rejects.toMatchObject({
        code: "NOT_SUPPORTED",
      });
    } finally {
      await namespace.drop();
      await backend.shutdown();
    }
  });
});
