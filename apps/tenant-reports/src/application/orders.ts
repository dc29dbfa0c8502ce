import type { OperationOptions } from "@proj/ports";

/** One order of a tenant, as reports show it. */
export interface Order {
  id: number;
  reference: string;
  customer: string;
  placedAt: Date;
  quantity: number;
  /** Decimal string, e.g. "19.90": money never goes through a float on its way from the database. */
  unitPrice: string;
  /** Fraction, decimal string, e.g. "0.1000". */
  discount: string;
  paid: boolean;
}

export type NewOrder = Omit<Order, "id">;

/**
 * The application's own port for the tenant-owned `orders` table. Implementations must only ever
 * read or write the given tenant's rows.
 */
export interface OrderStore {
  /**
   * Hands `work` the tenant's orders in id order, streamed, and resolves with its result. The rows
   * are only readable while `work` runs (it may hold a transaction open, e.g. for row-level security).
   */
  readOrders<T>(
    tenantId: string,
    work: (orders: AsyncIterable<Order>) => Promise<T>,
    options?: OperationOptions,
  ): Promise<T>;
  /** Adds orders to the tenant; returns how many. */
  add(
    tenantId: string,
    orders: Iterable<NewOrder> | AsyncIterable<NewOrder>,
    options?: OperationOptions,
  ): Promise<number>;
  close(): Promise<void>;
}
