import {
  type GenerateReportOptions,
  InfrastructureError,
  type ReportFormat,
  type ReportRow,
} from "@proj/ports";
import type { ReportPlan } from "./report-plan.js";

/** Counts an engine keeps up to date while it renders; the generator adds the byte count. */
export interface RenderStats {
  rowCount: number;
  sheetCount: number;
}

/**
 * The seam between the port and whatever writes the bytes. Today two in-process engines sit behind
 * it (XLSX and CSV); an external engine (a process or a service) would implement the same shape,
 * streaming rows out and bytes back, without any change to `ReportGenerator`.
 *
 * `render` must pull rows only as its bytes are pulled (the caller pulls as the output drains), must
 * release the row iterators it opened when it is returned early, and throws taxonomy errors for
 * values that do not fit.
 */
export interface ReportEngine {
  readonly format: ReportFormat;
  /** Sheets one report may hold (CSV: 1). */
  readonly maxSheets: number;
  render(plan: ReportPlan, stats: RenderStats, options: GenerateReportOptions): AsyncIterable<Buffer>;
}

/** Bytes of markup gathered before they are handed on: large enough to amortise the stream hops. */
export const CHUNK_CHARS = 64 * 1024;

/** Wraps an error thrown by the caller's row iterator, so it is not mistaken for an engine fault. */
export class RowSourceError extends Error {
  constructor(
    readonly sheet: string,
    readonly row: number,
    cause: unknown,
  ) {
    super(`the rows of sheet "${sheet}" failed at row ${row}`, { cause });
    this.name = "RowSourceError";
  }
}

/**
 * Pulls rows from a sync or async iterable. Synchronous sources are read without an `await` per row,
 * which keeps the in-memory case fast.
 */
export class RowCursor {
  private readonly iterator: AsyncIterator<ReportRow> | Iterator<ReportRow>;
  private done = false;
  /** Data rows pulled so far (1-based number of the last one). */
  pulled = 0;

  constructor(
    private readonly sheet: string,
    rows: AsyncIterable<ReportRow> | Iterable<ReportRow>,
  ) {
    try {
      this.iterator =
        Symbol.asyncIterator in rows
          ? (rows as AsyncIterable<ReportRow>)[Symbol.asyncIterator]()
          : (rows as Iterable<ReportRow>)[Symbol.iterator]();
    } catch (error) {
      throw new RowSourceError(sheet, 1, error);
    }
  }

  /** The next row, `undefined` at the end; a promise only when the source is asynchronous. */
  next(): ReportRow | undefined | Promise<ReportRow | undefined> {
    let result: IteratorResult<ReportRow> | Promise<IteratorResult<ReportRow>>;
    try {
      result = this.iterator.next();
    } catch (error) {
      throw new RowSourceError(this.sheet, this.pulled + 1, error);
    }
    if (typeof (result as Partial<PromiseLike<unknown>>).then === "function") {
      return Promise.resolve(result as PromiseLike<IteratorResult<ReportRow>>).then(
        (settled) => this.take(settled),
        (error: unknown) => {
          throw new RowSourceError(this.sheet, this.pulled + 1, error);
        },
      );
    }
    return this.take(result as IteratorResult<ReportRow>);
  }

  /** Lets the source release what it holds (a cursor, a connection) when we stop early. */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.iterator.return?.();
    } catch {
      // The report has already failed or been abandoned; the source's own cleanup error adds nothing.
    }
  }

  private take(result: IteratorResult<ReportRow>): ReportRow | undefined {
    if (result.done) {
      this.done = true;
      return undefined;
    }
    this.pulled += 1;
    const row: unknown = result.value;
    // Arrays, Maps and Sets are objects, but their values are not properties named by column keys:
    // written, they would come out as empty rows.
    if (
      row === null ||
      typeof row !== "object" ||
      Array.isArray(row) ||
      row instanceof Map ||
      row instanceof Set
    ) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `row ${this.pulled} of sheet "${this.sheet}" is not an object of values by column key (arrays, Maps and Sets are refused)`,
        { retryable: false, details: { sheet: this.sheet, row: this.pulled } },
      );
    }
    return row as ReportRow;
  }
}
