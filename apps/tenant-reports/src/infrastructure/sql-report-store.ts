import {
  ERROR_CODES,
  type ErrorCode,
  InfrastructureError,
  type OperationOptions,
  type ReportFormat,
  type SqlDatabase,
  type SqlQuery,
  sql,
} from "@proj/ports";
import type {
  ClaimOutcome,
  ClaimRequest,
  ReportRecord,
  ReportStatus,
  ReportStore,
  StaleReportsQuery,
} from "../application/report-store.js";
import { withSchemaLock } from "./schema-lock.js";

interface ReportRow {
  id: string;
  tenant_id: string;
  format: string;
  status: string;
  attempts: number | string;
  claim_token: string | null;
  claimed_by: string | null;
  object_key: string | null;
  row_count: number | string | null;
  byte_size: number | string | null;
  error_code: string | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const COLUMNS = sql.join(
  [
    "id",
    "tenant_id",
    "format",
    "status",
    "attempts",
    "claim_token",
    "claimed_by",
    "object_key",
    "row_count",
    "byte_size",
    "error_code",
    "requested_at",
    "started_at",
    "finished_at",
  ].map((column) => sql.id(column)),
);

const LONGEST_LEASE_MS = 24 * 3_600_000;

function toRecord(row: ReportRow): ReportRecord {
  const optionalNumber = (value: number | string | null) => (value === null ? undefined : Number(value));
  const code = row.error_code as ErrorCode | null;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    format: row.format as ReportFormat,
    status: row.status as ReportStatus,
    attempts: Number(row.attempts),
    ...(row.claimed_by === null ? {} : { claimedBy: row.claimed_by }),
    ...(row.object_key === null ? {} : { objectKey: row.object_key }),
    ...(row.row_count === null ? {} : { rowCount: optionalNumber(row.row_count) }),
    ...(row.byte_size === null ? {} : { byteSize: optionalNumber(row.byte_size) }),
    ...(code === null ? {} : { errorCode: ERROR_CODES.includes(code) ? code : "INTERNAL" }),
    requestedAt: row.requested_at,
    ...(row.started_at === null ? {} : { startedAt: row.started_at }),
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
  };
}

function checkLease(leaseMs: number): void {
  if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > LONGEST_LEASE_MS) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `leaseMs must be an integer from 1 to ${LONGEST_LEASE_MS}`,
    );
  }
}

/**
 * The `reports` table over the SqlDatabase port, on PostgreSQL, PGlite or MySQL alike. Every time
 * (requested, started, finished, a claim's end) comes from the database's clock, so workers on
 * hosts whose clocks differ still agree on whose claim has run out.
 */
export class SqlReportStore implements ReportStore {
  readonly #now: SqlQuery;

  private constructor(private readonly db: SqlDatabase) {
    this.#now = sql.unsafe(db.dialect.name === "mysql" ? "CURRENT_TIMESTAMP(3)" : "CURRENT_TIMESTAMP");
  }

  static async open(db: SqlDatabase): Promise<SqlReportStore> {
    const timestamp = db.dialect.name === "mysql" ? sql.unsafe("DATETIME(3)") : sql.unsafe("TIMESTAMPTZ");
    const now = sql.unsafe(db.dialect.name === "mysql" ? "CURRENT_TIMESTAMP(3)" : "CURRENT_TIMESTAMP");
    await withSchemaLock(db, async (tx) => {
      await tx.execute(sql`CREATE TABLE IF NOT EXISTS ${sql.id("reports")} (
        ${sql.id("id")} VARCHAR(36) NOT NULL PRIMARY KEY,
        ${sql.id("tenant_id")} VARCHAR(64) NOT NULL,
        ${sql.id("format")} VARCHAR(8) NOT NULL,
        ${sql.id("status")} VARCHAR(16) NOT NULL,
        ${sql.id("attempts")} INTEGER NOT NULL,
        ${sql.id("claim_token")} VARCHAR(64),
        ${sql.id("claimed_by")} VARCHAR(200),
        ${sql.id("claim_expires_at")} ${timestamp},
        ${sql.id("object_key")} VARCHAR(1024),
        ${sql.id("row_count")} BIGINT,
        ${sql.id("byte_size")} BIGINT,
        ${sql.id("error_code")} VARCHAR(32),
        ${sql.id("requested_at")} ${timestamp} NOT NULL DEFAULT ${now},
        ${sql.id("started_at")} ${timestamp},
        ${sql.id("finished_at")} ${timestamp}
      )`);
      const index = sql.id("reports_status_requested_idx");
      const columns = sql`${sql.id("status")}, ${sql.id("requested_at")}`;
      if (db.dialect.name === "mysql") {
        const existing = await tx.queryOne(
          sql`SELECT 1 AS present FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ${"reports"} AND index_name = ${"reports_status_requested_idx"}`,
        );
        if (existing === undefined)
          await tx.execute(sql`CREATE INDEX ${index} ON ${sql.id("reports")} (${columns})`);
      } else {
        await tx.execute(sql`CREATE INDEX IF NOT EXISTS ${index} ON ${sql.id("reports")} (${columns})`);
      }
    });
    return new SqlReportStore(db);
  }

  /** The database's clock `ms` milliseconds from now. */
  #later(ms: number): SqlQuery {
    return this.db.dialect.name === "mysql"
      ? sql`(CURRENT_TIMESTAMP(3) + INTERVAL ${ms * 1000} MICROSECOND)`
      : sql`(CURRENT_TIMESTAMP + CAST(${ms} AS INTEGER) * INTERVAL '1 millisecond')`;
  }

  async record(
    report: { id: string; tenantId: string; format: ReportFormat },
    options: OperationOptions = {},
  ): Promise<ReportRecord> {
    await this.db.execute(
      sql`INSERT INTO ${sql.id("reports")} (${sql.id("id")}, ${sql.id("tenant_id")}, ${sql.id("format")}, ${sql.id("status")}, ${sql.id("attempts")})
          VALUES (${report.id}, ${report.tenantId}, ${report.format}, ${"queued"}, ${0})`,
      options,
    );
    const recorded = await this.find(report.id, undefined, options);
    if (recorded === undefined)
      throw new InfrastructureError("INTERNAL", "a recorded report could not be read back");
    return recorded;
  }

  async find(
    id: string,
    tenantId?: string,
    options: OperationOptions = {},
  ): Promise<ReportRecord | undefined> {
    const tenant = tenantId === undefined ? sql.empty : sql` AND ${sql.id("tenant_id")} = ${tenantId}`;
    const row = await this.db.queryOne<ReportRow>(
      sql`SELECT ${COLUMNS} FROM ${sql.id("reports")} WHERE ${sql.id("id")} = ${id}${tenant}`,
      options,
    );
    return row === undefined ? undefined : toRecord(row);
  }

  async claim(id: string, request: ClaimRequest, options: OperationOptions = {}): Promise<ClaimOutcome> {
    checkLease(request.leaseMs);
    const now = this.#now;
    await this.db.execute(
      sql`UPDATE ${sql.id("reports")} SET
            ${sql.id("status")} = ${"running"},
            ${sql.id("attempts")} = ${sql.id("attempts")} + 1,
            ${sql.id("claim_token")} = ${request.token},
            ${sql.id("claimed_by")} = ${request.worker},
            ${sql.id("claim_expires_at")} = ${this.#later(request.leaseMs)},
            ${sql.id("started_at")} = COALESCE(${sql.id("started_at")}, ${now})
          WHERE ${sql.id("id")} = ${id} AND (${sql.id("status")} = ${"queued"}
            OR (${sql.id("status")} = ${"running"} AND ${sql.id("claim_expires_at")} < ${now}))`,
      options,
    );
    // MySQL has no UPDATE … RETURNING: the row read back says whose claim it is.
    const row = await this.db.queryOne<ReportRow>(
      sql`SELECT ${COLUMNS} FROM ${sql.id("reports")} WHERE ${sql.id("id")} = ${id}`,
      options,
    );
    if (row === undefined) return { kind: "missing" };
    const record = toRecord(row);
    if (record.status === "done" || record.status === "failed") return { kind: "finished", record };
    if (record.status === "running" && row.claim_token === request.token) return { kind: "claimed", record };
    return { kind: "held", record };
  }

  async renew(id: string, token: string, leaseMs: number, options: OperationOptions = {}): Promise<boolean> {
    checkLease(leaseMs);
    const { affectedRows } = await this.db.execute(
      sql`UPDATE ${sql.id("reports")} SET ${sql.id("claim_expires_at")} = ${this.#later(leaseMs)}
          WHERE ${sql.id("id")} = ${id} AND ${sql.id("claim_token")} = ${token} AND ${sql.id("status")} = ${"running"}`,
      options,
    );
    return affectedRows === 1;
  }

  async complete(
    id: string,
    token: string,
    result: { objectKey: string; rowCount: number; byteSize: number },
    options: OperationOptions = {},
  ): Promise<boolean> {
    const { affectedRows } = await this.db.execute(
      sql`UPDATE ${sql.id("reports")} SET
            ${sql.id("status")} = ${"done"},
            ${sql.id("object_key")} = ${result.objectKey},
            ${sql.id("row_count")} = ${result.rowCount},
            ${sql.id("byte_size")} = ${result.byteSize},
            ${sql.id("error_code")} = NULL,
            ${sql.id("claim_token")} = NULL,
            ${sql.id("claim_expires_at")} = NULL,
            ${sql.id("finished_at")} = ${this.#now}
          WHERE ${sql.id("id")} = ${id} AND ${sql.id("claim_token")} = ${token} AND ${sql.id("status")} = ${"running"}`,
      options,
    );
    return affectedRows === 1;
  }

  async fail(
    id: string,
    token: string | undefined,
    code: ErrorCode,
    options: OperationOptions = {},
  ): Promise<boolean> {
    const holder =
      token === undefined
        ? sql`${sql.id("status")} = ${"queued"}`
        : sql`${sql.id("claim_token")} = ${token} AND ${sql.id("status")} = ${"running"}`;
    const { affectedRows } = await this.db.execute(
      sql`UPDATE ${sql.id("reports")} SET
            ${sql.id("status")} = ${"failed"},
            ${sql.id("error_code")} = ${code},
            ${sql.id("claim_token")} = NULL,
            ${sql.id("claim_expires_at")} = NULL,
            ${sql.id("finished_at")} = ${this.#now}
          WHERE ${sql.id("id")} = ${id} AND ${holder}`,
      options,
    );
    return affectedRows === 1;
  }

  async release(
    id: string,
    token: string,
    code: ErrorCode,
    options: OperationOptions = {},
  ): Promise<boolean> {
    const { affectedRows } = await this.db.execute(
      sql`UPDATE ${sql.id("reports")} SET
            ${sql.id("status")} = ${"queued"},
            ${sql.id("error_code")} = ${code},
            ${sql.id("claim_token")} = NULL,
            ${sql.id("claim_expires_at")} = NULL
          WHERE ${sql.id("id")} = ${id} AND ${sql.id("claim_token")} = ${token} AND ${sql.id("status")} = ${"running"}`,
      options,
    );
    return affectedRows === 1;
  }

  async stale(query: StaleReportsQuery, options: OperationOptions = {}): Promise<string[]> {
    checkLease(Math.max(1, query.olderThanMs));
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 10_000) {
      throw new InfrastructureError("INVALID_ARGUMENT", "limit must be an integer from 1 to 10,000");
    }
    const before = this.#later(-query.olderThanMs);
    const rows = await this.db.query<{ id: string }>(
      sql`SELECT ${sql.id("id")} FROM ${sql.id("reports")}
          WHERE (${sql.id("status")} = ${"queued"} AND ${sql.id("requested_at")} <= ${before})
             OR (${sql.id("status")} = ${"running"} AND ${sql.id("claim_expires_at")} <= ${before})
          ORDER BY ${sql.id("requested_at")} LIMIT ${sql.unsafe(String(query.limit))}`,
      options,
    );
    return rows.map((row) => row.id);
  }

  /** The database belongs to whoever opened it; the store holds nothing of its own. */
  async close(): Promise<void> {}
}
