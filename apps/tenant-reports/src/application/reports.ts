import { randomUUID } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import {
  InfrastructureError,
  type ObjectStorage,
  type Principal,
  type ReportDefinition,
  type ReportFormat,
  type ReportGenerator,
  type Tenant,
  type TenantRepository,
} from "@proj/ports";
import { callerTenantId } from "./access.js";
import { lineTotal } from "./money.js";
import type { NewOrder, Order, OrderStore } from "./orders.js";

const CONTENT_TYPES: Record<ReportFormat, string> = {
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  csv: "text/csv; charset=utf-8",
};

const REPORT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIGNED_URL_SECONDS = 300;
const MAX_SAMPLE_ORDERS = 1_000_000;

export interface GeneratedReport {
  id: string;
  format: ReportFormat;
  rowCount: number;
  byteSize: number;
}

export type ReportDownload =
  | { kind: "url"; url: string }
  | { kind: "stream"; body: Readable; contentType: string; size: number; fileName: string };

function reportKey(tenantId: string, id: string, format: ReportFormat): string {
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

function* sampleOrders(count: number, seed: number): Generator<NewOrder> {
  const customers = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    '=HYPERLINK("x")',
  ];
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i++) {
    yield {
      reference: `ORD-${String(i + 1).padStart(7, "0")}`,
      customer: customers[Math.floor(next() * customers.length)] as string,
      placedAt: new Date(start + Math.floor(next() * 300 * 86_400_000)),
      quantity: 1 + Math.floor(next() * 20),
      unitPrice: (1 + Math.floor(next() * 50_000) / 100).toFixed(2),
      discount: (Math.floor(next() * 4) * 0.05).toFixed(4),
      paid: next() < 0.7,
    };
  }
}

/** Report use cases for the caller's own tenant. */
export class ReportService {
  constructor(
    private readonly orders: OrderStore,
    private readonly storage: ObjectStorage,
    private readonly generator: ReportGenerator,
    /** Read through a cache: this runs on every report request. */
    private readonly tenants: TenantRepository,
  ) {}

  /** Adds generated sample orders to the caller's tenant (for demos and load tests). */
  async addSampleOrders(caller: Principal, count: number): Promise<number> {
    const tenantId = (await this.#activeTenant(caller)).id;
    if (!Number.isInteger(count) || count < 1 || count > MAX_SAMPLE_ORDERS) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `count must be an integer from 1 to ${MAX_SAMPLE_ORDERS}`,
      );
    }
    return this.orders.add(tenantId, sampleOrders(count, Date.now()));
  }

  /** Streams the caller tenant's orders as a report straight into object storage. */
  async generate(caller: Principal, format: ReportFormat, signal?: AbortSignal): Promise<GeneratedReport> {
    const tenant = await this.#activeTenant(caller);
    const tenantId = tenant.id;
    const id = randomUUID();
    const definition = (orders: AsyncIterable<Order>): ReportDefinition => ({
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
    });
    const result = await this.orders.readOrders(
      tenantId,
      async (orders) => {
        const pipe = new PassThrough();
        const stored = this.storage.put(reportKey(tenantId, id, format), pipe, {
          contentType: CONTENT_TYPES[format],
          signal,
        });
        const written = this.generator.generate(definition(orders), pipe, { format, signal });
        // Whichever side fails first tears the pipe down, so the other side fails too instead of waiting.
        stored.catch((error: unknown) => pipe.destroy(error as Error));
        written.catch((error: unknown) => pipe.destroy(error as Error));
        // Both sides settle before the rows' transaction ends: no cursor or upload outlives the call.
        const [report, upload] = await Promise.allSettled([written, stored]);
        if (report.status === "rejected") throw report.reason;
        if (upload.status === "rejected") throw upload.reason;
        return report.value;
      },
      { signal },
    );
    return { id, format, rowCount: result.rowCount, byteSize: result.byteSize };
  }

  /** A signed URL where the storage gives one, else the file itself; only the caller's tenant's reports. */
  async download(caller: Principal, id: string): Promise<ReportDownload> {
    const tenantId = callerTenantId(caller);
    if (!REPORT_ID.test(id)) throw new InfrastructureError("NOT_FOUND", "no such report");
    for (const format of ["xlsx", "csv"] as const) {
      const key = reportKey(tenantId, id, format);
      if (!(await this.storage.exists(key))) continue;
      if (this.storage.capabilities.signedUrls) {
        return {
          kind: "url",
          url: await this.storage.signedUrl(key, { method: "GET", expiresInSeconds: SIGNED_URL_SECONDS }),
        };
      }
      const { info, body } = await this.storage.get(key);
      return {
        kind: "stream",
        body,
        contentType: info.contentType,
        size: info.size,
        fileName: `report-${id}.${format}`,
      };
    }
    throw new InfrastructureError("NOT_FOUND", "no such report");
  }

  async #activeTenant(caller: Principal): Promise<Tenant> {
    const tenantId = callerTenantId(caller);
    const tenant = await this.tenants.getById(tenantId);
    if (tenant.status !== "active") {
      throw new InfrastructureError("PERMISSION_DENIED", `tenant ${tenant.slug} is ${tenant.status}`);
    }
    return tenant;
  }
}
