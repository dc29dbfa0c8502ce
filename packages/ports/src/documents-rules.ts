import { fromBase64Url, toBase64Url } from "./base64url.js";
import type { FindOptions } from "./documents.js";
import { InfrastructureError } from "./errors.js";

/**
 * The `DocumentDatabase` contract's input rules as code, so the reference adapter and every backend
 * refuse the same input with the same error. What a backend reserves on top (MongoDB's `_id`) stays
 * in the adapter.
 */

/** Largest `limit` of a `find` page. */
export const MAX_FIND_LIMIT = 1000;
/** `limit` of a `find` page when the caller gives none. */
export const DEFAULT_FIND_LIMIT = 100;

const COLLECTION_NAME = /^[A-Za-z0-9_.-]{1,120}$/;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date)
    return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets an own property even for `__proto__`, which plain assignment would not store. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** Throws `INVALID_ARGUMENT` unless `name` is 1 to 120 letters, digits, `_`, `-`, `.`, not `system.*`. */
export function validateCollectionName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !COLLECTION_NAME.test(name) || name.startsWith("system.")) {
    throw invalid(
      `collection name ${JSON.stringify(name)} must be 1 to 120 letters, digits, _ - or ., not system.*`,
    );
  }
}

/** The page size of a `find`: `limit`, or 100 when absent; `INVALID_ARGUMENT` outside 1 to 1000. */
export function validateFindLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_FIND_LIMIT;
  if (!Number.isInteger(value) || value < 1 || value > MAX_FIND_LIMIT) {
    throw invalid(`find: limit must be an integer from 1 to ${MAX_FIND_LIMIT}`);
  }
  return value;
}

/**
 * Splits the `id` off a document given to `insertOne`/`insertMany`: `INVALID_ARGUMENT` unless the
 * document is a plain object and its `id`, when present, a non-empty string. `where` names the
 * call in the message.
 */
export function splitDocumentId(
  document: unknown,
  where: string,
): { id: string | undefined; fields: Record<string, unknown> } {
  if (!isPlainObject(document)) throw invalid(`${where}: a document must be a plain object`);
  const { id, ...fields } = document;
  if (id !== undefined && (typeof id !== "string" || id.length === 0)) {
    throw invalid(`${where}: id must be a non-empty string`);
  }
  return { id, fields };
}

/**
 * The segments of a field path (`address.city` → `["address", "city"]`), `INVALID_ARGUMENT` for a
 * path with NUL, an empty segment or a segment starting with `$`.
 */
export function parseFieldPath(field: unknown, where: string): string[] {
  if (typeof field !== "string" || field.includes("\0"))
    throw invalid(`${where}: field ${JSON.stringify(field)} is not valid`);
  const segments = field.split(".");
  for (const segment of segments) {
    if (segment === "" || segment.startsWith("$")) {
      throw invalid(`${where}: field ${JSON.stringify(field)} may not start with $ or have empty segments`);
    }
  }
  return segments;
}

function checkStoredFieldName(key: string, where: string): void {
  if (key === "" || key.startsWith("$") || key.includes(".") || key.includes("\0")) {
    throw invalid(
      `${where}: field name ${JSON.stringify(key)} may not be empty, start with $, or contain . or NUL`,
    );
  }
}

/**
 * Checks a value on its way into a document store and returns a deep copy that shares nothing
 * with the caller, built only of plain objects, arrays, finite numbers, strings, booleans, null
 * and valid Dates; object fields that are `undefined` are dropped, `undefined` array items refused.
 * Stored field names may not be empty, start with `$`, or hold `.` or NUL; with `anyKeys` (a filter
 * operand, which is only ever compared as a whole) any name without NUL is accepted.
 */
export function copyDocumentValue(value: unknown, where: string, anyKeys = false): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw invalid(`${where} is not a finite number`);
      return value;
    case "object": {
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw invalid(`${where} is an invalid Date`);
        return new Date(value.getTime());
      }
      if (Array.isArray(value)) {
        return value.map((item, i) => {
          if (item === undefined) throw invalid(`${where}[${i}] is undefined`);
          return copyDocumentValue(item, `${where}[${i}]`, anyKeys);
        });
      }
      if (!isPlainObject(value)) throw invalid(`${where} is not a plain object`);
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (item === undefined) continue;
        if (anyKeys) {
          if (key.includes("\0")) throw invalid(`${where}: a key contains NUL`);
        } else checkStoredFieldName(key, where);
        define(out, key, copyDocumentValue(item, `${where}.${key}`, anyKeys));
      }
      return out;
    }
    default:
      throw invalid(`${where} holds a ${typeof value}, which is not a JSON value or Date`);
  }
}

/** One field of a `find` sort, checked. */
export interface DocumentSortKey {
  field: string;
  descending: boolean;
}

/**
 * The sort of a `find` as the contract defines it: each field once, `asc` or `desc`
 * (`INVALID_ARGUMENT` otherwise), then `id` ascending as the tie-breaker unless the sort names it.
 * Field paths are the caller's to check, as adapters map them differently.
 */
export function documentSortKeys(sort: FindOptions["sort"], where: string): DocumentSortKey[] {
  const keys: DocumentSortKey[] = [];
  const seen = new Set<string>();
  for (const entry of sort ?? []) {
    if (entry.direction !== "asc" && entry.direction !== "desc") {
      throw invalid(`${where}: sort direction must be "asc" or "desc"`);
    }
    if (seen.has(entry.field)) throw invalid(`${where}: sort names ${entry.field} twice`);
    seen.add(entry.field);
    keys.push({ field: entry.field, descending: entry.direction === "desc" });
  }
  if (!seen.has("id")) keys.push({ field: "id", descending: false });
  return keys;
}

function signature(keys: readonly DocumentSortKey[]): string[] {
  return keys.map((key) => `${key.field}:${key.descending ? "desc" : "asc"}`);
}

/**
 * A keyset cursor for `find`: base64url JSON of the sort it belongs to and the last document's
 * sort values (Dates kept as Dates). Opaque to callers; `decodeFindCursor` reads it back.
 */
export function encodeFindCursor(keys: readonly DocumentSortKey[], values: readonly unknown[]): string {
  const v = values.map((value) => (value instanceof Date ? { d: value.getTime() } : { j: value }));
  return toBase64Url(JSON.stringify({ s: signature(keys), v }));
}

/**
 * The sort values an `encodeFindCursor` cursor holds, checked like any filter value.
 * `INVALID_ARGUMENT` for a cursor that is damaged or belongs to a different sort.
 */
export function decodeFindCursor(cursor: unknown, keys: readonly DocumentSortKey[]): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(String(cursor)));
  } catch {
    throw invalid("find: the cursor is not valid");
  }
  if (!isPlainObject(parsed) || !Array.isArray(parsed.s) || !Array.isArray(parsed.v)) {
    throw invalid("find: the cursor is not valid");
  }
  const expected = signature(keys);
  if (parsed.s.length !== expected.length || parsed.s.some((s, i) => s !== expected[i])) {
    throw invalid("find: the cursor belongs to a different sort");
  }
  if (parsed.v.length !== keys.length) throw invalid("find: the cursor is not valid");
  return parsed.v.map((item: unknown) => {
    if (isPlainObject(item) && typeof item.d === "number") return new Date(item.d);
    if (isPlainObject(item) && "j" in item) return copyDocumentValue(item.j, "cursor");
    throw invalid("find: the cursor is not valid");
  });
}
