import { PassThrough } from "node:stream";
import type {
  ObjectStorage,
  ReportDefinition,
  ReportFormat,
  ReportGenerator,
  ReportResult,
  Tenant,
} from "@proj/ports";
import { lineTotal } from "./money.js";
import type { Order, OrderStore } from "./orders.js";

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  csv: "text/csv; charset=utf-8",
};

/** The one object storage key of a report. */
export function reportKey(tenantId: string, id: string, format: ReportFormat): string {
  return `tenants/${tenantId}/reports/${id}.${format}`;
}

async function* reportRows(orders: AsyncIterable<Order>) {
  for await (const order of orders) {
    yield {
      id: order.id,
      reference: order.reference,
      customer: order.customer,
      placedAt: order.placedAt,
      quantity: order.quantity,
      unitPrice: order.unitPrice,
      discount: order.discount,
      total: lineTotal(order),
      paid: order.paid,
    };
  }
}

function definition(tenant: Tenant, orders: AsyncIterable<Order>): ReportDefinition {
  return {
    title: `Orders of ${tenant.name}`,
    sheets: [
      {
        name: "Orders",
        columns: [
          { header: "Order", key: "id", type: "integer", width: 10 },
          { header: "Reference", key: "reference", type: "string", width: 14 },
          { header: "Customer", key: "customer", type: "string", width: 24 },
          { header: "Placed", key: "placedAt", type: "date", width: 12 },
          { header: "Quantity", key: "quantity", type: "integer", width: 10 },
          { header: "Unit price", key: "unitPrice", type: "currency", width: 12 },
          { header: "Discount", key: "discount", type: "percent", width: 10 },
          { header: "Total", key: "total", type: "currency", width: 12 },
          { header: "Paid", key: "paid", type: "boolean", width: 8 },
        ],
        rows: reportRows(orders),
      },
    ],
  };
}

export interface WriteReportRequest {
  tenant: Tenant;
  format: ReportFormat;
  key: string;
  /** `"*"`: store only if no object is under `key` (where the storage can say so). */
  ifNoneMatch?: "*";
  signal: AbortSignal;
}

/**
 * Streams the tenant's orders from the database through the report generator into object
 * storage: memory stays bounded whatever the row count (rows in batches, the file in parts).
 */
export async function writeReport(
  orders: OrderStore,
  storage: ObjectStorage,
  generator: ReportGenerator,
  { tenant, format, key, ifNoneMatch, signal }: WriteReportRequest,
): Promise<ReportResult> {
  return orders.readOrders(
    tenant.id,
    async (rows) => {
      const pipe = new PassThrough();
      const stored = storage.put(key, pipe, {
        contentType: CONTENT_TYPES[format],
        signal,
        ...(ifNoneMatch === undefined ? {} : { ifNoneMatch }),
      });
      const written = generator.generate(definition(tenant, rows), pipe, { format, signal });
      // Whichever side fails first tears the pipe down, so the other side fails too instead of
      // waiting; its error is the one that says what happened (the other only saw a torn pipe).
      let first: { error: unknown } | undefined;
      const tearDown = (error: unknown) => {
        first ??= { error };
        pipe.destroy(error as Error);
      };
      stored.catch(tearDown);
      written.catch(tearDown);
      // Both sides settle before the rows' transaction ends: no cursor or upload outlives the call.
      const [report] = await Promise.allSettled([written, stored]);
      if (first !== undefined) throw first.error;
      if (report.status === "rejected") throw report.reason;
      return report.value;
    },
    { signal },
  );
}
