import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import {
  InfrastructureError,
  isInfrastructureError,
  isOutcomeUnknown,
  type JobQueue,
  type ObjectStorage,
  type Principal,
  type ReportFormat,
  type Tenant,
  type TenantRepository,
} from "@proj/ports";
import { callerTenantId } from "./access.js";
import type { NewOrder, OrderStore } from "./orders.js";
import { reportKey } from "./report-generation.js";
import type { ReportRecord, ReportStore } from "./report-store.js";

const REPORT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIGNED_URL_SECONDS = 300;
const MAX_SAMPLE_ORDERS = 1_000_000;

/** The queue report jobs go through. */
export const REPORT_QUEUE = "reports";

/** A report job's payload: the report's id; everything else is in its record. */
export interface ReportJob {
  [key: string]: string;
  reportId: string;
}

/** What `GET /reports/:id` gives for a report that is not done: its record, or its download. */
export type ReportDownload =
  | { kind: "url"; url: string }
  | { kind: "stream"; body: Readable; contentType: string; size: number; fileName: string }
  | { kind: "not-ready"; report: ReportRecord };

export interface ReportServiceOptions {
  /** How many times a report job may run before the report is failed (`maxAttempts` of its job). */
  maxAttempts: number;
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

/** Report use cases for the caller's own tenant: sample orders, report requests, their status and download. */
export class ReportService {
  constructor(
    private readonly orders: OrderStore,
    private readonly storage: ObjectStorage,
    /** Read through a cache: this runs on every report request. */
    private readonly tenants: TenantRepository,
    private readonly reports: ReportStore,
    private readonly queue: JobQueue,
    private readonly options: ReportServiceOptions,
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

  /**
   * Records a report of the caller tenant's orders as `queued` and enqueues its job, keyed by the
   * report's id. Resolves once the job is enqueued; a worker makes the report. When the job
   * cannot be enqueued the report is failed with the queue's code and the call rejects with it.
   */
  async request(caller: Principal, format: ReportFormat): Promise<ReportRecord> {
    const tenant = await this.#activeTenant(caller);
    const record = await this.reports.record({ id: randomUUID(), tenantId: tenant.id, format });
    try {
      await enqueueReport(this.queue, record.id, this.options.maxAttempts);
    } catch (error) {
      const code = isInfrastructureError(error) ? error.code : "INTERNAL";
      // Nothing may wait for a job that does not exist; if the job exists after all (its enqueue
      // reply was lost twice) and a worker claimed it first, the report is made anyway.
      await this.reports.fail(record.id, undefined, code).catch(() => undefined);
      throw error;
    }
    return record;
  }

  /** The record of one of the caller tenant's reports. */
  async status(caller: Principal, id: string): Promise<ReportRecord> {
    const tenantId = callerTenantId(caller);
    const record = REPORT_ID.test(id) ? await this.reports.find(id, tenantId) : undefined;
    if (record === undefined) throw new InfrastructureError("NOT_FOUND", "no such report");
    return record;
  }

  /**
   * A done report: a signed URL where the storage gives one, else the file itself. A report not
   * done yet (or failed): its record. Only the caller tenant's reports.
   */
  async download(caller: Principal, id: string): Promise<ReportDownload> {
    const tenantId = callerTenantId(caller);
    if (!REPORT_ID.test(id)) throw new InfrastructureError("NOT_FOUND", "no such report");
    const record = await this.reports.find(id, tenantId);
    if (record !== undefined && record.status !== "done") return { kind: "not-ready", report: record };
    // Reports made before reports became jobs have no record: their object is looked for by key.
    const candidates =
      record?.objectKey !== undefined
        ? [{ key: record.objectKey, format: record.format }]
        : (["xlsx", "csv"] as const).map((format) => ({ key: reportKey(tenantId, id, format), format }));
    for (const { key, format } of candidates) {
      if (record === undefined && !(await this.storage.exists(key))) continue;
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

/**
 * Enqueues the job of a report, keyed by the report's id: enqueuing it again (a retried request, a
 * sweep) makes no second job within the queue's idempotency window. An enqueue whose reply was
 * lost is sent once more with the same key, which is safe.
 */
export async function enqueueReport(
  queue: JobQueue,
  reportId: string,
  maxAttempts: number,
): Promise<{ id: string; duplicate: boolean }> {
  const payload: ReportJob = { reportId };
  const options = { idempotencyKey: reportId, maxAttempts };
  try {
    return await queue.enqueue(REPORT_QUEUE, payload, options);
  } catch (error) {
    if (!isOutcomeUnknown(error)) throw error;
    return await queue.enqueue(REPORT_QUEUE, payload, options);
  }
}
