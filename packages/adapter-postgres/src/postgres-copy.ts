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

/** One row as a COPY line, appended to `chunk`. */
function appendRow(chunk: string, row: readonly unknown[], columnCount: number, position: number): string {
  if (row.length !== columnCount) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `insertMany row ${position} has ${row.length} values for ${columnCount} columns`,
    );
  }
  let text = `${chunk}${copyField(row[0])}`;
  for (let column = 1; column < columnCount; column += 1) text += `\t${copyField(row[column])}`;
  return `${text}\n`;
}

/**
 * The rows as COPY text, one Buffer per `batchSize` rows. A synchronous source (an array) is read
 * without a promise per row; only an async source is awaited row by row.
 */
async function* copyChunks(
  rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
  columnCount: number,
  batchSize: number,
  counter: { rows: number; sourceError?: unknown },
  progress: () => void,
): AsyncGenerator<Buffer> {
  const isAsync = Symbol.asyncIterator in rows;
  const iterator: AsyncIterator<readonly unknown[]> | Iterator<readonly unknown[]> = isAsync
    ? rows[Symbol.asyncIterator]()
    : rows[Symbol.iterator]();
  let chunk = "";
  let inChunk = 0;
  let exhausted = false;
  try {
    for (;;) {
      let next: IteratorResult<readonly unknown[]>;
      try {
        next = isAsync ? await iterator.next() : (iterator as Iterator<readonly unknown[]>).next();
      } catch (error) {
        exhausted = true;
        counter.sourceError = error;
        throw error;
      }
      if (next.done === true) {
        exhausted = true;
        break;
      }
      counter.rows += 1;
      chunk = appendRow(chunk, next.value, columnCount, counter.rows);
      inChunk += 1;
      if (inChunk >= batchSize) {
        progress();
        yield Buffer.from(chunk);
        chunk = "";
        inChunk = 0;
      }
    }
  } finally {
    // Stopped early (a COPY failure or an abort): let the caller's generator clean up.
    if (!exhausted) await iterator.return?.();
  }
  progress();
  if (chunk.length > 0) yield Buffer.from(chunk);
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
  const counter: { rows: number; sourceError?: unknown } = { rows: 0 };
  const copy = client.query(copyFrom(statement));
  const source = Readable.from(copyChunks(rows, columnCount, batchSize, counter, progress), {
    objectMode: false,
  });
  try {
    await pipeline(source, copy, signal === undefined ? {} : { signal });
  } catch (error) {
    if (signal?.aborted) throw cancelledError(signal, what);
    // The caller's own iterable failed: hand its error back untouched.
    if (error === counter.sourceError) throw error;
    throw mapPostgresError(error, what);
  }
  return counter.rows;
}
