import type { ErrorCode, OperationOptions, ReportFormat } from "@proj/ports";

/** Where a report is in its life: recorded, being made by a worker, stored, or given up. */
export type ReportStatus = "queued" | "running" | "done" | "failed";

/** A requested report, as the app's database records it. */
export interface ReportRecord {
  id: string;
  tenantId: string;
  format: ReportFormat;
  status: ReportStatus;
  /** Claims made by workers so far (1 for a report made at the first try). */
  attempts: number;
  /** The worker holding (or that last held) the report: `host:pid`. */
  claimedBy?: string;
  /** Set once done: the object storage key, the rows and the bytes stored. */
  objectKey?: string;
  rowCount?: number;
  byteSize?: number;
  /** Failed: why (a taxonomy code). Queued again after a retryable failure: the last one. */
  errorCode?: ErrorCode;
  /** Times from the database's clock, so processes on different hosts agree on them. */
  requestedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

/** What `ReportStore.claim` found. */
export type ClaimOutcome =
  /** The report is this worker's until `leaseMs` after the last renewal. */
  | { kind: "claimed"; record: ReportRecord }
  /** Done or failed already: a delivery of a job whose work is over. */
  | { kind: "finished"; record: ReportRecord }
  /** Another worker holds a live claim on it. */
  | { kind: "held"; record: ReportRecord }
  | { kind: "missing" };

export interface ClaimRequest {
  /** Unique to this attempt: the fencing token every later write of the attempt names. */
  token: string;
  /** `host:pid`, for operators. */
  worker: string;
  /** How long the claim lasts without a renewal. */
  leaseMs: number;
}

export interface StaleReportsQuery {
  /** Queued for longer than this, or running under a claim that ran out longer than this ago. */
  olderThanMs: number;
  limit: number;
}

/**
 * The application's own port for the `reports` table: the record of every requested report and
 * the guard that lets one worker at a time make it. A claim is a fencing token with a lease: a
 * report is claimed when queued, or when the claim of the worker that held it ran out (that
 * worker died or stalled); every later write of an attempt names its token and changes nothing
 * once the claim is someone else's.
 */
export interface ReportStore {
  /** Records a report as `queued`. */
  record(
    report: { id: string; tenantId: string; format: ReportFormat },
    options?: OperationOptions,
  ): Promise<ReportRecord>;
  /** The report, if it exists and (when `tenantId` is given) belongs to that tenant. */
  find(id: string, tenantId?: string, options?: OperationOptions): Promise<ReportRecord | undefined>;
  claim(id: string, request: ClaimRequest, options?: OperationOptions): Promise<ClaimOutcome>;
  /** Extends the claim by `leaseMs`; false once the claim is no longer `token`'s. */
  renew(id: string, token: string, leaseMs: number, options?: OperationOptions): Promise<boolean>;
  /** Marks the report done; false (nothing changed) once the claim is no longer `token`'s. */
  complete(
    id: string,
    token: string,
    result: { objectKey: string; rowCount: number; byteSize: number },
    options?: OperationOptions,
  ): Promise<boolean>;
  /**
   * Marks the report failed with `code`: under the claim `token`, or, without a token, only while
   * it is still queued (a request whose job could not be enqueued). False when nothing changed.
   */
  fail(id: string, token: string | undefined, code: ErrorCode, options?: OperationOptions): Promise<boolean>;
  /** Gives the claim up: the report is queued again, `code` kept as its last error. */
  release(id: string, token: string, code: ErrorCode, options?: OperationOptions): Promise<boolean>;
  /** Ids of reports that may have lost their job (see `StaleReportsQuery`), oldest first. */
  stale(query: StaleReportsQuery, options?: OperationOptions): Promise<string[]>;
  close(): Promise<void>;
}
