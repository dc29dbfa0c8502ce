import { type SqlDatabase, sql } from "@proj/ports";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { migrateTenantSchema, TENANT_MIGRATIONS } from "../src/index.js";
import { BACKENDS, type Namespace } from "./backends.js";

for (const makeBackend of Object.values(BACKENDS)) {
  const backend = makeBackend();
  afterAll(() => backend.shutdown());

  describe(`migrations on ${backend.name}`, () => {
    let namespace: Namespace | undefined;
    afterEach(async () => {
      await namespace?.drop();
      namespace = undefined;
    });

    async function recorded(db: SqlDatabase): Promise<number[]> {
      const rows = await db.query<{ version: unknown }>(
        sql`SELECT version FROM tenant_schema_migrations ORDER BY version`,
      );
      return rows.map((row) => Number(row.version));
    }

    it("applies every migration once, and nothing on a second run", async () => {
      namespace = await backend.open();
      const all = TENANT_MIGRATIONS.map((m) => m.version);
      expect(await migrateTenantSchema(namespace.db)).toEqual(all);
      expect(await migrateTenantSchema(namespace.db)).toEqual([]);
      expect(await recorded(namespace.db)).toEqual(all);
    });

    it("applies each migration exactly once when several processes start at the same time", async () => {
      namespace = await backend.open();
      const processes = [namespace.connect(2), namespace.connect(2), namespace.connect(2)];
      const results = await Promise.all(processes.map((db) => migrateTenantSchema(db)));
      expect(results.flat().sort((a, b) => a - b)).toEqual(TENANT_MIGRATIONS.map((m) => m.version));
      expect(await recorded(namespace.db)).toEqual(TENANT_MIGRATIONS.map((m) => m.version));
    });
  });
}
