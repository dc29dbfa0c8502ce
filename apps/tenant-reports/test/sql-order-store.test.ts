import { randomUUID } from "node:crypto";
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { uniqueName } from "@proj/contract-tests";
import { sql } from "@proj/ports";
import { runAsTenant } from "@proj/repository-tenant-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NewOrder } from "../src/application/orders.js";
import { SqlOrderStore } from "../src/infrastructure/sql-order-store.js";

const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

function orders(count: number): NewOrder[] {
  return Array.from({ length: count }, (_, i) => ({
    reference: `R-${i}`,
    customer: "Ada",
    placedAt: new Date(Date.UTC(2026, 0, 1 + i)),
    quantity: 1 + i,
    unitPrice: "9.90",
    discount: "0.1000",
    paid: i % 2 === 0,
  }));
}

describe("SqlOrderStore on PostgreSQL with a tenant role", () => {
  const schema = uniqueName("orders");
  const role = uniqueName("orders_tenant");
  const admin = createPostgresDatabase({ connectionString: POSTGRES_URL, poolSize: 1 });
  const db = createPostgresDatabase({ connectionString: POSTGRES_URL, schema, poolSize: 3 });
  const acme = randomUUID();
  const globex = randomUUID();
  let store: SqlOrderStore;

  beforeAll(async () => {
    await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
    await admin.execute(sql`CREATE ROLE ${sql.id(role)} NOLOGIN`);
    await admin.execute(sql`GRANT USAGE ON SCHEMA ${sql.id(schema)} TO ${sql.id(role)}`);
    store = await SqlOrderStore.open(db, { tenantRole: role });
    await store.add(acme, orders(12));
    await store.add(globex, orders(5));
  });

  afterAll(async () => {
    await db.close();
    await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
    await admin.execute(sql`DROP OWNED BY ${sql.id(role)}`);
    await admin.execute(sql`DROP ROLE ${sql.id(role)}`);
    await admin.close();
  });

  it("reads a tenant's orders in id order, with money as decimal strings", async () => {
    const read = await store.readOrders(acme, async (rows) => {
      const all = [];
      for await (const row of rows) all.push(row);
      return all;
    });
    expect(read).toHaveLength(12);
    expect(read.map((o) => o.reference)).toEqual(orders(12).map((o) => o.reference));
    expect(read[0]).toMatchObject({ unitPrice: "9.90", discount: "0.1000", paid: true, quantity: 1 });
    expect(read[0]?.placedAt).toEqual(new Date(Date.UTC(2026, 0, 1)));
  });

  it("guards the table with a policy: as the role, a query without a WHERE sees one tenant's rows only", async () => {
    const count = (tenant: string) =>
      runAsTenant(db, tenant, (tx) => tx.queryOne<{ n: string }>(sql`SELECT COUNT(*) AS n FROM orders`), {
        role,
      });
    expect(Number((await count(acme))?.n)).toBe(12);
    expect(Number((await count(globex))?.n)).toBe(5);
    expect(Number((await count(randomUUID()))?.n)).toBe(0);
  });

  it("opens twice without failing (the policy and grant are idempotent)", async () => {
    await expect(SqlOrderStore.open(db, { tenantRole: role })).resolves.toBeInstanceOf(SqlOrderStore);
  });

  it("sets up an empty schema once when several instances start at the same time", async () => {
    const fresh = uniqueName("orders_race");
    await admin.execute(sql`CREATE SCHEMA ${sql.id(fresh)}`);
    const instances = [1, 2, 3].map(() =>
      createPostgresDatabase({ connectionString: POSTGRES_URL, schema: fresh, poolSize: 1 }),
    );
    try {
      const stores = await Promise.all(instances.map((instance) => SqlOrderStore.open(instance)));
      expect(stores).toHaveLength(3);
    } finally {
      for (const instance of instances) await instance.close();
      await admin.execute(sql`DROP SCHEMA ${sql.id(fresh)} CASCADE`);
    }
  });
});
