import {
  InfrastructureError,
  type OperationOptions,
  type SqlDatabase,
  type SqlExecutor,
  sql,
} from "@proj/ports";
import type { NewOrder, Order, OrderStore } from "../application/orders.js";
import { withSchemaLock } from "./schema-lock.js";

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

/**
 * Runs `work` with an executor whose reads only see `tenantId`'s rows (e.g. a transaction under a
 * row-level-security policy). Supplied by the composition root, which knows how.
 */
export type TenantScope = <T>(
  tenantId: string,
  work: (executor: SqlExecutor) => Promise<T>,
  options: OperationOptions,
) => Promise<T>;

export interface SqlOrderStoreOptions {
  /**
   * PostgreSQL only: the role reads run as under the `orders` row-level-security policy; the store
   * grants it SELECT on `orders`. Give it together with `scope`.
   */
  tenantRole?: string;
  /** How reads are scoped to one tenant beyond the WHERE clause. Absent: the WHERE clause alone. */
  scope?: TenantScope;
}

/**
 * The `orders` table over the SqlDatabase port, on PostgreSQL, PGlite or MySQL alike. Every
 * statement is scoped by `tenant_id`; the tenant comes from the caller's token, never the request.
 * On PostgreSQL a row-level-security policy guards the table as well, for reads made as `tenantRole`.
 */
export class SqlOrderStore implements OrderStore {
  private constructor(
    private readonly db: SqlDatabase,
    private readonly scope: TenantScope | undefined,
  ) {}

  static async open(db: SqlDatabase, options: SqlOrderStoreOptions = {}): Promise<SqlOrderStore> {
    const id =
      db.dialect.name === "mysql"
        ? sql.unsafe("BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY")
        : sql.unsafe("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
    // An instant, not a wall-clock reading: independent of the server's and the process's zone.
    const timestamp = db.dialect.name === "mysql" ? sql.unsafe("DATETIME(3)") : sql.unsafe("TIMESTAMPTZ");
    if (db.dialect.name !== "postgres" && options.tenantRole !== undefined) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        "a tenant role needs PostgreSQL (row-level security)",
      );
    }
    await withSchemaLock(db, async (tx) => {
      await tx.execute(sql`CREATE TABLE IF NOT EXISTS ${sql.id("orders")} (
      ${sql.id("id")} ${id},
      ${sql.id("tenant_id")} VARCHAR(64) NOT NULL,
      ${sql.id("reference")} VARCHAR(40) NOT NULL,
      ${sql.id("customer")} VARCHAR(200) NOT NULL,
      ${sql.id("placed_at")} ${timestamp} NOT NULL,
      ${sql.id("quantity")} INTEGER NOT NULL,
      ${sql.id("unit_price")} DECIMAL(12, 2) NOT NULL,
      ${sql.id("discount")} DECIMAL(5, 4) NOT NULL,
      ${sql.id("paid")} BOOLEAN NOT NULL
    )`);
      const index = sql.id("orders_tenant_id_idx");
      if (db.dialect.name === "mysql") {
        const existing = await tx.queryOne(
          sql`SELECT 1 AS present FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ${"orders"} AND index_name = ${"orders_tenant_id_idx"}`,
        );
        if (existing === undefined) {
          await tx.execute(
            sql`CREATE INDEX ${index} ON ${sql.id("orders")} (${sql.id("tenant_id")}, ${sql.id("id")})`,
          );
        }
      } else {
        await tx.execute(
          sql`CREATE INDEX IF NOT EXISTS ${index} ON ${sql.id("orders")} (${sql.id("tenant_id")}, ${sql.id("id")})`,
        );
        await SqlOrderStore.#protect(tx, options.tenantRole);
      }
    });
    return new SqlOrderStore(db, options.scope);
  }

  /**
   * ENABLE (not FORCE) row-level security: the owner, which writes orders with COPY (not allowed
   * under a policy), is exempt; the tenant role sees only the rows of the tenant set by runAsTenant.
   */
  static async #protect(db: SqlExecutor, tenantRole: string | undefined): Promise<void> {
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
    const read = (executor: SqlExecutor) =>
      SqlOrderStore.#closingAfter(this.#rows(executor, tenantId, options), work);
    return this.scope === undefined ? read(this.db) : this.scope(tenantId, read, options);
  }

  /**
   * Runs `work` over `rows` and closes the row stream before settling, whatever `work` did with it,
   * so its cursor is released before the transaction or connection around it ends.
   */
  static async #closingAfter<T>(
    rows: AsyncGenerator<Order>,
    work: (orders: AsyncIterable<Order>) => Promise<T>,
  ): Promise<T> {
    try {
      return await work(rows);
    } finally {
      await rows.return(undefined);
    }
  }

  async *#rows(executor: SqlExecutor, tenantId: string, options: OperationOptions): AsyncGenerator<Order> {
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

  /** The database belongs to whoever opened it; the store holds nothing of its own. */
  async close(): Promise<void> {}
}
