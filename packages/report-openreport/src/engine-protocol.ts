import { InfrastructureError, isInfrastructureError } from "@proj/ports";

/**
 * The engine protocol: what a report engine in another process reads on stdin and writes on stdout.
 * Every message is one frame: a 1-byte type, a 4-byte little-endian payload length, the payload.
 * See the README ("Engine protocol") for the conversation; this file is its one implementation in
 * TypeScript, shared by the parent (`process-engine.ts`) and the reference child (`engine-child.ts`).
 */
export const FRAME = {
  /** parent → child, first and once: the plan as JSON (`WirePlan`). */
  PLAN: 0x01,
  /** parent → child: a batch of rows of the current sheet, JSON array of arrays in column order. */
  ROWS: 0x02,
  /** parent → child: the current sheet has no more rows. */
  SHEET_END: 0x03,
  /** child → parent: send the next batch of rows (JSON `{ "sheet": index }`). */
  NEED_ROWS: 0x11,
  /** child → parent: report bytes, raw. */
  BYTES: 0x12,
  /** child → parent, last: success, JSON `{ "rowCount", "sheetCount" }`. */
  DONE: 0x13,
  /** child → parent, last: failure, JSON `{ "code", "message", "details"? }` with a taxonomy code. */
  ERROR: 0x14,
} as const;

export const FRAME_HEADER = 5;
/** Refuses a frame bigger than this rather than buffering whatever a broken peer announces. */
export const MAX_FRAME = 64 * 1024 * 1024;

export interface WireColumn {
  header: string;
  key: string;
  type: string;
  width?: number;
  numberFormat?: string;
}

export interface WirePlan {
  /** Protocol version; this is 1. */
  version: 1;
  format: string;
  title?: string;
  sheets: { name: string; columns: WireColumn[] }[];
  /** The request's options and the generator's engine settings. */
  options: {
    bom?: boolean;
    delimiter?: string;
    compressionLevel?: number;
    sharedStrings?: boolean;
    maxRowsPerSheet?: number;
  };
}

export function frame(type: number, payload: Buffer | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  header.writeUInt8(type, 0);
  header.writeUInt32LE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** Reads frames from a byte stream, however its chunks split them. */
export async function* readFrames(
  source: AsyncIterable<Buffer>,
): AsyncGenerator<{ type: number; payload: Buffer }> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= FRAME_HEADER) {
      const length = pending.readUInt32LE(1);
      if (length > MAX_FRAME) throw new Error(`frame of ${length} bytes is over the ${MAX_FRAME} limit`);
      if (pending.length < FRAME_HEADER + length) break;
      const type = pending.readUInt8(0);
      yield { type, payload: pending.subarray(FRAME_HEADER, FRAME_HEADER + length) };
      pending = pending.subarray(FRAME_HEADER + length);
    }
  }
  if (pending.length > 0) throw new Error("the stream ended inside a frame");
}

/**
 * A cell value as JSON. What JSON cannot hold travels tagged: `{"$date": millis}` (`null` for an
 * invalid date), `{"$bigint": "digits"}`, `{"$number": "NaN" | "Infinity" | "-Infinity" | "-0"}`,
 * `{"$invalid": "symbol" | "function"}`; `undefined` becomes `null`.
 */
export function encodeCell(value: unknown): unknown {
  if (value instanceof Date) {
    const millis = value.getTime();
    return { $date: Number.isNaN(millis) ? null : millis };
  }
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (typeof value === "number" && (!Number.isFinite(value) || Object.is(value, -0))) {
    return { $number: Object.is(value, -0) ? "-0" : String(value) };
  }
  // JSON would turn these into null (an empty cell); they must reach the engine as misfits instead.
  if (typeof value === "symbol" || typeof value === "function") return { $invalid: typeof value };
  return value === undefined ? null : value;
}

export function decodeCell(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const tagged = value as { $date?: number | null; $bigint?: string; $number?: string; $invalid?: string };
  if ("$date" in tagged) return new Date(tagged.$date ?? Number.NaN);
  if (typeof tagged.$bigint === "string") return BigInt(tagged.$bigint);
  if (typeof tagged.$number === "string") return Number(tagged.$number);
  if (typeof tagged.$invalid === "string") return Symbol(tagged.$invalid);
  return value;
}

export function errorPayload(error: unknown): string {
  const taxonomy = isInfrastructureError(error)
    ? error
    : new InfrastructureError("INTERNAL", `the engine failed: ${String(error)}`, { cause: error });
  return JSON.stringify({ code: taxonomy.code, message: taxonomy.message, details: taxonomy.details });
}
