import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { cancelledError, InfrastructureError } from "@proj/ports";
import { from as copyFrom } from "pg-copy-streams";
import { mapPostgresError } from "./map-postgres-error.js";
import type { PostgresPoolClient } from "./postgres-pool.js";

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/**
 * Local wall-clock time with its offset, as `pg` itself sends a Date: TIMESTAMP columns then hold
 * the same wall-clock time that `pg` parses back, and TIMESTAMPTZ the same instant.
 */
function formatDate(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const absolute = Math.abs(offset);
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.floor(absolute / 60))}:${pad(absolute % 60)}`
  );
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((item) => {
    if (item === null || item === undefined) return "NULL";
    const text = Array.isArray(item) ? arrayLiteral(item) : toText(item);
    return Array.isArray(item) ? text : `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

/** A value as PostgreSQL's text input format spells it, before COPY escaping. */
function toText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return formatDate(value);
  if (Buffer.isBuffer(value)) return `\\x${value.toString("hex")}`;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

/** The characters COPY text format escapes with a backslash. */
const SPECIAL = /[\\\n\r\t]/;

function escapeCopy(text: string): string {
  if (!SPECIAL.test(text)) return text;
  return text
    .replaceAll("\\", "\\\\")
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r")
    .replaceAll("\t", "\\t");
}

/**
 * One value in COPY text format: `\N` for NULL, backslash escapes for the separators. Strings,
 * numbers and booleans (nearly every value of a bulk load) take one branch each; a string is copied
 * only when it holds a character to escape.
 */
function copyField(value: unknown): string {
  switch (typeof value) {
    case "string":
      return escapeCopy(value);
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "t" : "f";
    default:
      return value === null || value === undefined ? "\\N" : escapeCopy(toText(value));
  }
}

/** Rows turned into COPY text, handed out one Buffer per `batchSize` rows. */
class CopyBatches {
  /** Rows taken so far. */
  rows = 0;
  /** What the caller's iterable threw, to hand back untouched. */
  sourceError: unknown;
  readonly #columnCount: number;
  readonly #batchSize: number;
  readonly #progress: () => void;
  #chunk = "";
  #inChunk = 0;

  constructor(columnCount: number, batchSize: number, progress: () => void) {
    this.#columnCount = columnCount;
    this.#batchSize = batchSize;
    this.#progress = progress;
  }

  /** Appends one row; returns the batch once it is full. */
  add(row: readonly unknown[]): Buffer | undefined {
    this.rows += 1;
    const columnCount = this.#columnCount;
    if (row.length !== columnCount) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `insertMany row ${this.rows} has ${row.length} values for ${columnCount} columns`,
      );
    }
    let text = `${this.#chunk}${copyField(row[0])}`;
    for (let column = 1; column < columnCount; column += 1) text += `\t${copyField(row[column])}`;
    this.#chunk = `${text}\n`;
    this.#inChunk += 1;
    return this.#inChunk >= this.#batchSize ? this.#take() : undefined;
  }

  /** The last, partial batch (the source is exhausted). */
  rest(): Buffer | undefined {
    if (this.#inChunk > 0) return this.#take();
    this.#progress();
    return undefined;
  }

  #take(): Buffer {
    this.#progress();
    const batch = Buffer.from(this.#chunk);
    this.#chunk = "";
    this.#inChunk = 0;
    return batch;
  }
}

/** A synchronous source (an array) is read without a promise per row or per batch. */
function* syncChunks(rows: Iterable<readonly unknown[]>, batches: CopyBatches): Generator<Buffer> {
  const iterator = rows[Symbol.iterator]();
  let exhausted = false;
  try {
    for (;;) {
      let next: IteratorResult<readonly unknown[]>;
      try {
        next = iterator.next();
      } catch (error) {
        exhausted = true;
        batches.sourceError = error;
        throw error;
      }
      if (next.done === true) break;
      const batch = batches.add(next.value);
      if (batch !== undefined) yield batch;
    }
    exhausted = true;
  } finally {
    // Stopped early (a COPY failure or an abort): let the caller's iterable clean up.
    if (!exhausted) iterator.return?.();
  }
  const rest = batches.rest();
  if (rest !== undefined) yield rest;
}

async function* asyncChunks(
  rows: AsyncIterable<readonly unknown[]>,
  batches: CopyBatches,
): AsyncGenerator<Buffer> {
  const iterator = rows[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      let next: IteratorResult<readonly unknown[]>;
      try {
        next = await iterator.next();
      } catch (error) {
        exhausted = true;
        batches.sourceError = error;
        throw error;
      }
      if (next.done === true) break;
      const batch = batches.add(next.value);
      if (batch !== undefined) yield batch;
    }
    exhausted = true;
  } finally {
    if (!exhausted) await iterator.return?.();
  }
  const rest = batches.rest();
  if (rest !== undefined) yield rest;
}

/**
 * Streams `rows` into one `COPY ... FROM STDIN`: one statement, so it is atomic on its own, and
 * `pipeline` pulls the next chunk only when the socket drains. A failing source or an abort destroys
 * the COPY stream, which sends CopyFail so the server discards every row of it. `progress` is called
 * whenever a chunk is about to go out, so the caller can bound inactivity rather than total time.
 */
export async function copyRows(
  client: PostgresPoolClient,
  statement: string,
  columnCount: number,
  rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
  batchSize: number,
  signal: AbortSignal | undefined,
  what: string,
  progress: () => void = () => undefined,
): Promise<number> {
  const batches = new CopyBatches(columnCount, batchSize, progress);
  const copy = client.query(copyFrom(statement));
  const chunks = Symbol.asyncIterator in rows ? asyncChunks(rows, batches) : syncChunks(rows, batches);
  const source = Readable.from(chunks, { objectMode: false });
  try {
    await pipeline(source, copy, signal === undefined ? {} : { signal });
  } catch (error) {
    if (signal?.aborted) throw cancelledError(signal, what);
    // The caller's own iterable failed: hand its error back untouched.
    if (error === batches.sourceError) throw error;
    throw mapPostgresError(error, what);
  }
  return batches.rows;
}
