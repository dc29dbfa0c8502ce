import {
  InfrastructureError,
  type OperationOptions,
  type SqlDatabase,
  type SqlExecutor,
  sql,
} from "@proj/ports";
import { runAsTenant } from "@proj/repository-tenant-postgres";
import type { NewOrder, Order, OrderStore } from "../application/orders.js";

interface OrderRow {
  id: number | string;
  reference: string;
  customer: string;
  placed_at: Date;
  quantity: number;
  unit_price: string;
  discount: string;
  paid: boolean;
}

const COLUMNS = [
  "tenant_id",
  "reference",
  "customer",
  "placed_at",
  "quantity",
  "unit_price",
  "discount",
  "paid",
] as const;

export interface SqlOrderStoreOptions {
  /**
   * PostgreSQL only: a database role without BYPASSRLS that reads run as, under the `orders`
   * row-level-security policy (`@proj/repository-tenant-postgres`'s `runAsTenant`). The store grants
   * it SELECT on `orders`. Absent: reads rely on the WHERE clause alone.
   */
  tenantRole?: string;
}

/**
 * The `orders` table over the SqlDatabase port, on PostgreSQL, PGlite or MySQL alike. Every
 * statement is scoped by `tenant_id`; the tenant comes from the caller's token, never the request.
 * On PostgreSQL a row-level-security policy guards the table as well, for reads made as `tenantRole`.
 */
export class SqlOrderStore implements OrderStore {
  private constructor(
    private readonly db: SqlDatabase,
    private readonly tenantRole: string | undefined,
  ) {}

  static async open(db: SqlDatabase, options: SqlOrderStoreOptions = {}): Promise<SqlOrderStore> {
    const id =
      db.dialect.name === "mysql"
        ? sql.unsafe("BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY")
        : sql.unsafe("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
    await db.execute(sql`CREATE TABLE IF NOT EXISTS ${sql.id("orders")} (
      ${sql.id("id")} ${id},
      ${sql.id("tenant_id")} VARCHAR(64) NOT NULL,
      ${sql.id("reference")} VARCHAR(40) NOT NULL,
      ${sql.id("customer")} VARCHAR(200) NOT NULL,
      ${sql.id("placed_at")} TIMESTAMP NOT NULL,
      ${sql.id("quantity")} INTEGER NOT NULL,
      ${sql.id("unit_price")} DECIMAL(12, 2) NOT NULL,
      ${sql.id("discount")} DECIMAL(5, 4) NOT NULL,
      ${sql.id("paid")} BOOLEAN NOT NULL
    )`);
    const index = sql.id("orders_tenant_id_idx");
    if (db.dialect.name === "mysql") {
      const existing = await db.queryOne(
        sql`SELECT 1 AS present FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ${"orders"} AND index_name = ${"orders_tenant_id_idx"}`,
      );
      if (existing === undefined)
        await db.execute(
          sql`CREATE INDEX ${index} ON ${sql.id("orders")} (${sql.id("tenant_id")}, ${sql.id("id")})`,
        );
    } else {
      await db.execute(
        sql`CREATE INDEX IF NOT EXISTS ${index} ON ${sql.id("orders")} (${sql.id("tenant_id")}, ${sql.id("id")})`,
      );
    }
    if (db.dialect.name === "postgres") await SqlOrderStore.#protect(db, options.tenantRole);
    else if (options.tenantRole !== undefined) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        "a tenant role needs PostgreSQL (row-level security)",
      );
    }
    return new SqlOrderStore(db, options.tenantRole);
  }

  /**
   * ENABLE (not FORCE) row-level security: the owner, which writes orders with COPY (not allowed
   * under a policy), is exempt; the tenant role sees only the rows of the tenant set by runAsTenant.
   */
  static async #protect(db: SqlDatabase, tenantRole: string | undefined): Promise<void> {
    await db.execute(sql`ALTER TABLE ${sql.id("orders")} ENABLE ROW LEVEL SECURITY`);
    const policy = await db.queryOne(
      sql`SELECT 1 AS present FROM pg_policies WHERE schemaname = current_schema() AND tablename = ${"orders"} AND policyname = ${"orders_tenant_isolation"}`,
    );
    if (policy === undefined) {
      await db.execute(sql`CREATE POLICY ${sql.id("orders_tenant_isolation")} ON ${sql.id("orders")}
        USING (${sql.id("tenant_id")} = current_setting('app.tenant_id', true))`);
    }
    if (tenantRole !== undefined)
      await db.execute(sql`GRANT SELECT ON ${sql.id("orders")} TO ${sql.id(tenantRole)}`);
  }

  readOrders<T>(
    tenantId: string,
    work: (orders: AsyncIterable<Order>) => Promise<T>,
    options: OperationOptions = {},
  ): Promise<T> {
    if (this.tenantRole === undefined) return work(this.#rows(this.db, tenantId, options));
    return runAsTenant(this.db, tenantId, (tx) => work(this.#rows(tx, tenantId, options)), {
      role: this.tenantRole,
      ...options,
    });
  }

  async *#rows(executor: SqlExecutor, tenantId: string, options: OperationOptions): AsyncIterable<Order> {
    const rows = executor.stream<OrderRow>(
      sql`SELECT ${sql.join(["id", "reference", "customer", "placed_at", "quantity", "unit_price", "discount", "paid"].map((c) => sql.id(c)))}
          FROM ${sql.id("orders")} WHERE ${sql.id("tenant_id")} = ${tenantId} ORDER BY ${sql.id("id")}`,
      { signal: options.signal, batchSize: 1000 },
    );
    for await (const row of rows) {
      yield {
        id: Number(row.id),
        reference: row.reference,
        customer: row.customer,
        placedAt: row.placed_at,
        quantity: row.quantity,
        unitPrice: row.unit_price,
        discount: row.discount,
        paid: row.paid,
      };
    }
  }

  async add(
    tenantId: string,
    orders: Iterable<NewOrder> | AsyncIterable<NewOrder>,
    options: OperationOptions = {},
  ): Promise<number> {
    async function* rows() {
      for await (const o of orders) {
        yield [
          tenantId,
          o.reference,
          o.customer,
          o.placedAt,
          o.quantity,
          o.unitPrice,
          o.discount,
          o.paid,
        ] as const;
      }
    }
    return this.db.insertMany("orders", COLUMNS, rows(), { signal: options.signal });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
