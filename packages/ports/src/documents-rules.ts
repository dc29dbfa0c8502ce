import { fromBase64Url, toBase64Url } from "./base64url.js";
import { type ComparisonOperator, type FindOptions, isFilterCondition } from "./documents.js";
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
/**
 * Largest document, filter or update, in bytes as BSON measures it: MongoDB's limit, enforced by
 * every adapter so code tested on one backend does not break on another.
 */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of a document: the document itself is level 1, each object or array inside adds one. */
export const MAX_DOCUMENT_DEPTH = 100;

const COLLECTION_NAME = /^[A-Za-z0-9_.-]{1,120}$/;

/** A UTF-16 surrogate without its partner: BSON stores it as U+FFFD, so the value would change. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `text` holds a UTF-16 surrogate without its partner, which no adapter stores unchanged. */
export function hasLoneSurrogate(text: string): boolean {
  // The engine's own check (ES2024) is many times faster on large strings than the pattern.
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === "function" ? !native.call(text) : LONE_SURROGATE.test(text);
}

/** Caller input for an error message; JSON.stringify alone throws on a BigInt, String on some objects. */
function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : `a ${value === null ? "null" : typeof value}`;
}

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
    throw invalid(`collection name ${shown(name)} must be 1 to 120 letters, digits, _ - or ., not system.*`);
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
  if (id !== undefined && (typeof id !== "string" || id.length === 0 || hasLoneSurrogate(id))) {
    throw invalid(`${where}: id must be a non-empty string of well-formed UTF-16`);
  }
  return { id, fields };
}

/**
 * The segments of a field path (`address.city` → `["address", "city"]`), `INVALID_ARGUMENT` for a
 * path with NUL, an empty segment, a segment starting with `$` or named `_bsontype`, or more than
 * `MAX_DOCUMENT_DEPTH` segments (no stored document reaches deeper).
 */
export function parseFieldPath(field: unknown, where: string): string[] {
  if (typeof field !== "string" || field.includes("\0") || hasLoneSurrogate(field))
    throw invalid(`${where}: field ${shown(field)} is not valid`);
  const segments = field.split(".");
  if (segments.length > MAX_DOCUMENT_DEPTH) {
    throw invalid(`${where}: a field path has more than ${MAX_DOCUMENT_DEPTH} segments`);
  }
  for (const segment of segments) {
    if (segment === "" || segment.startsWith("$")) {
      throw invalid(`${where}: field ${JSON.stringify(field)} may not start with $ or have empty segments`);
    }
    // No stored document holds it, and as a query key BSON encoders would read it as a type tag.
    if (segment === "_bsontype") throw invalid(`${where}: the field name _bsontype is reserved by BSON`);
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
 * and valid Dates. `INVALID_ARGUMENT` for anything else, and for:
 * - `undefined` anywhere (an object field or an array item): a missing request field must never
 *   silently become "no condition" or "no field";
 * - a key named `_bsontype`, which BSON encoders read as a type tag;
 * - a string or key holding a lone UTF-16 surrogate, which BSON would store as U+FFFD (so what is
 *   read back, or matched, would differ from what was given);
 * - nesting deeper than `MAX_DOCUMENT_DEPTH`: `level` is the level the value sits at, 1 for a
 *   document itself, so a value stored at a path of `k` segments sits at level `k + 1`.
 * Stored field names may not be empty, start with `$`, or hold `.` or NUL; with `anyKeys` (a filter
 * operand, which is only ever compared as a whole) any name without NUL is accepted.
 */
export function copyDocumentValue(value: unknown, where: string, anyKeys = false, level = 1): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
      if (hasLoneSurrogate(value)) throw invalid(`${where} holds a lone UTF-16 surrogate`);
      return value;
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw invalid(`${where} is not a finite number`);
      return value;
    case "undefined":
      throw invalid(`${where} is undefined; leave the field out instead`);
    case "object": {
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw invalid(`${where} is an invalid Date`);
        return new Date(value.getTime());
      }
      if (level > MAX_DOCUMENT_DEPTH) {
        throw invalid(`${where} nests deeper than ${MAX_DOCUMENT_DEPTH} levels`);
      }
      if (Array.isArray(value)) {
        const out: unknown[] = [];
        // An index loop, not map: map skips the holes of a sparse array, which are undefined too.
        for (let i = 0; i < value.length; i++) {
          out.push(copyDocumentValue(value[i], `${where}[${i}]`, anyKeys, level + 1));
        }
        return out;
      }
      if (!isPlainObject(value)) throw invalid(`${where} is not a plain object`);
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (key === "_bsontype") throw invalid(`${where}: the field name _bsontype is reserved by BSON`);
        if (hasLoneSurrogate(key)) throw invalid(`${where}: a field name holds a lone UTF-16 surrogate`);
        if (anyKeys) {
          if (key.includes("\0")) throw invalid(`${where}: a key contains NUL`);
        } else checkStoredFieldName(key, where);
        define(out, key, copyDocumentValue(item, `${where}.${key}`, anyKeys, level + 1));
      }
      return out;
    }
    default:
      throw invalid(`${where} holds a ${typeof value}, which is not a JSON value or Date`);
  }
}

// ---- sizes, as BSON measures them ----

const NON_ASCII = /[\u0080-\uffff]/;

function utf8Length(text: string): number {
  let bytes = text.length;
  if (!NON_ASCII.test(text)) return bytes;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
      continue;
    }
    // Three bytes for the rest of the BMP and for a lone surrogate (sent as U+FFFD); four for a
    // pair, which is two units.
    bytes += 2;
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
  }
  return bytes;
}

/** Bytes of one BSON element: type byte, key as a C string, value. */
function elementBytes(key: string, value: unknown): number {
  return 1 + utf8Length(key) + 1 + valueBytes(value);
}

function valueBytes(value: unknown): number {
  if (value === null || value === undefined) return 0;
  switch (typeof value) {
    case "boolean":
      return 1;
    // Every number counted as a double, the widest a driver sends, so the measure is an upper bound.
    case "number":
      return 8;
    case "string":
      return 4 + utf8Length(value) + 1;
    default:
      if (value instanceof Date) return 8;
      if (Array.isArray(value)) {
        let bytes = 5;
        for (let i = 0; i < value.length; i++) bytes += elementBytes(String(i), value[i]);
        return bytes;
      }
      return objectBytes(Object.entries(value as Record<string, unknown>));
  }
}

function objectBytes(entries: Iterable<readonly [string, unknown]>): number {
  let bytes = 5;
  for (const [key, value] of entries) bytes += elementBytes(key, value);
  return bytes;
}

function tooLarge(what: string, bytes: number): InfrastructureError {
  return new InfrastructureError(
    "RESOURCE_EXHAUSTED",
    `${what} measures ${bytes} bytes as BSON, over the limit of ${MAX_DOCUMENT_BYTES}`,
    { retryable: false },
  );
}

/**
 * `RESOURCE_EXHAUSTED` (not retryable) unless the document, with its id as a string `_id`, measures
 * at most `MAX_DOCUMENT_BYTES` as BSON (numbers counted as 8-byte doubles). `fields` must have been
 * checked by `copyDocumentValue`.
 */
export function checkDocumentSize(id: string, fields: Record<string, unknown>, where: string): void {
  const bytes = elementBytes("_id", id) + objectBytes(Object.entries(fields));
  if (bytes > MAX_DOCUMENT_BYTES) throw tooLarge(`${where}: the document`, bytes);
}

// ---- documents ----

/**
 * A document given to `insertOne`/`insertMany`, checked and copied: its id (the given one, else
 * `newId()`) and its other fields. `INVALID_ARGUMENT` by `splitDocumentId` and `copyDocumentValue`;
 * `RESOURCE_EXHAUSTED` by `checkDocumentSize`.
 */
export function prepareDocument(
  document: unknown,
  where: string,
  newId: () => string,
): { id: string; fields: Record<string, unknown> } {
  const split = splitDocumentId(document, where);
  const fields = copyDocumentValue(split.fields, where) as Record<string, unknown>;
  const id = split.id ?? newId();
  checkDocumentSize(id, fields, where);
  return { id, fields };
}

// ---- filters ----

/**
 * The port's operators, looked up as own properties only: a forged condition naming `__proto__` or
 * `constructor` must be refused, not resolved through the prototype chain.
 */
const OPERATORS: Readonly<Record<ComparisonOperator, "list" | "order" | "equality">> = {
  eq: "equality",
  ne: "equality",
  gt: "order",
  gte: "order",
  lt: "order",
  lte: "order",
  in: "list",
  nin: "list",
};

/** Whether `op` names one of the port's operators (an own property of the table, never inherited). */
export function isComparisonOperator(op: unknown): op is ComparisonOperator {
  return typeof op === "string" && Object.hasOwn(OPERATORS, op);
}

/** One field of a filter, checked: `operand` is a copy, an array of scalars for `in`/`nin`. */
export interface FilterClause {
  field: string;
  path: string[];
  op: ComparisonOperator;
  operand: unknown;
}

function scalarOperand(value: unknown, where: string, op: string): unknown {
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    throw invalid(`${where}: where.${op} compares with strings, numbers, booleans, null or Dates`);
  }
  return copyDocumentValue(value, where);
}

function filterClause(field: string, expected: unknown, where: string): FilterClause {
  const path = parseFieldPath(field, where);
  const at = `${where}.${field}`;
  if (expected === undefined) {
    throw invalid(`${at} is undefined; a filter field without a value would match every document`);
  }
  if (!isFilterCondition(expected)) {
    return { field, path, op: "eq", operand: copyDocumentValue(expected, at, true, path.length + 1) };
  }
  const { op, value } = expected as { op: unknown; value: unknown };
  if (!isComparisonOperator(op)) throw invalid(`${at}: unknown operator ${shown(op)}`);
  const kind = OPERATORS[op];
  if (kind === "list") {
    if (!Array.isArray(value)) throw invalid(`${at}: where.${op} needs an array`);
    const operand: unknown[] = [];
    for (let i = 0; i < value.length; i++) operand.push(scalarOperand(value[i], `${at}[${i}]`, op));
    return { field, path, op, operand };
  }
  if (Array.isArray(value)) throw invalid(`${at}: where.${op} takes a single value`);
  if (value === undefined) throw invalid(`${at}: where.${op} of undefined`);
  const operand =
    kind === "equality" ? copyDocumentValue(value, at, true, path.length + 1) : scalarOperand(value, at, op);
  return { field, path, op, operand };
}

/** BSON bytes of the clauses as `{ path: { $op: operand } }`: what any backend is sent at least. */
function filterBytes(clauses: readonly FilterClause[]): number {
  return objectBytes(clauses.map((clause) => [clause.field, { [`$${clause.op}`]: clause.operand }] as const));
}

/**
 * The clauses of a `Filter`, each field checked and its operand copied, so every adapter refuses the
 * same filters alike before any I/O:
 * - `INVALID_ARGUMENT` for a filter that is not a plain object, a bad field path, a field whose
 *   value is `undefined` (it would otherwise widen the match), a condition with an unknown
 *   operator or a misshapen operand, and operands `copyDocumentValue` refuses;
 * - `RESOURCE_EXHAUSTED` (not retryable) for operands over `MAX_DOCUMENT_BYTES` in all.
 * A missing filter matches every document where `required` is false (`find`, `count`) and is
 * `INVALID_ARGUMENT` where it is true (updates and deletes, where `{}` says "all" explicitly).
 */
export function prepareFilter(filter: unknown, where: string, required: boolean): FilterClause[] {
  if (filter === undefined) {
    if (required) throw invalid(`${where}: a filter is required; pass {} to address every document`);
    return [];
  }
  if (!isPlainObject(filter)) throw invalid(`${where}: filter must be a plain object`);
  const clauses = Object.entries(filter).map(([field, expected]) => filterClause(field, expected, where));
  const bytes = filterBytes(clauses);
  if (bytes > MAX_DOCUMENT_BYTES) throw tooLarge(`${where}: the filter`, bytes);
  return clauses;
}

// ---- updates ----

/** An `UpdateSpec`, checked: values copied, paths split, no two paths overlapping. */
export interface UpdatePlan {
  set: { field: string; path: string[]; value: unknown }[];
  unset: { field: string; path: string[] }[];
  increment: { field: string; path: string[]; amount: number }[];
}

const UPDATE_PARTS = new Set(["set", "unset", "increment"]);

/**
 * The update of an `updateOne`, checked before any I/O: `INVALID_ARGUMENT` for an update that is
 * not a plain object of `set`/`unset`/`increment`, a part of the wrong shape (`undefined` included),
 * a bad path, a value `copyDocumentValue` refuses at its path's level, an increment that is not a
 * finite number, a path that changes the id or overlaps another, or nothing to change;
 * `RESOURCE_EXHAUSTED` (not retryable) for values over `MAX_DOCUMENT_BYTES` in all.
 */
export function prepareUpdate(update: unknown, where: string): UpdatePlan {
  if (!isPlainObject(update)) throw invalid(`${where}: update must be a plain object`);
  for (const key of Object.keys(update)) {
    if (!UPDATE_PARTS.has(key)) throw invalid(`${where}: unknown update part ${JSON.stringify(key)}`);
  }
  const plan: UpdatePlan = { set: [], unset: [], increment: [] };
  const claimed: { field: string; path: string[] }[] = [];
  const claim = (field: unknown): { field: string; path: string[] } => {
    const path = parseFieldPath(field, where);
    if (path[0] === "id") throw invalid(`${where}: the id cannot be changed`);
    for (const other of claimed) {
      const n = Math.min(other.path.length, path.length);
      if (other.path.slice(0, n).join("\0") === path.slice(0, n).join("\0")) {
        throw invalid(`${where}: ${String(field)} and ${other.field} overlap in one update`);
      }
    }
    const entry = { field: field as string, path };
    claimed.push(entry);
    return entry;
  };
  if (Object.hasOwn(update, "set")) {
    if (!isPlainObject(update.set)) throw invalid(`${where}: set must be a plain object`);
    for (const [field, value] of Object.entries(update.set)) {
      const entry = claim(field);
      const at = `${where}.set.${field}`;
      if (value === undefined) throw invalid(`${at} is undefined; use unset to remove a field`);
      plan.set.push({ ...entry, value: copyDocumentValue(value, at, false, entry.path.length + 1) });
    }
  }
  if (Object.hasOwn(update, "unset")) {
    if (!Array.isArray(update.unset)) throw invalid(`${where}: unset must be an array`);
    for (let i = 0; i < update.unset.length; i++) plan.unset.push(claim(update.unset[i]));
  }
  if (Object.hasOwn(update, "increment")) {
    if (!isPlainObject(update.increment)) throw invalid(`${where}: increment must be a plain object`);
    for (const [field, amount] of Object.entries(update.increment)) {
      if (typeof amount !== "number" || !Number.isFinite(amount)) {
        throw invalid(`${where}: increment of ${field} must be a finite number`);
      }
      plan.increment.push({ ...claim(field), amount });
    }
  }
  if (claimed.length === 0) throw invalid(`${where}: the update changes nothing`);
  const bytes =
    objectBytes(plan.set.map((entry) => [entry.field, entry.value] as const)) +
    objectBytes(plan.unset.map((entry) => [entry.field, ""] as const)) +
    objectBytes(plan.increment.map((entry) => [entry.field, entry.amount] as const));
  if (bytes > MAX_DOCUMENT_BYTES) throw tooLarge(`${where}: the update`, bytes);
  return plan;
}

/** One field of a `find` sort, checked. */
export interface DocumentSortKey {
  field: string;
  descending: boolean;
}

/**
 * The sort of a `find` as the contract defines it: an array of `{ field, direction }` naming each
 * field once with a valid path, direction `asc` or `desc` (`INVALID_ARGUMENT` otherwise, a
 * misshapen sort or entry included), then `id` ascending as the tie-breaker unless the sort names it.
 * What a backend reserves on top (MongoDB's `_id`) is the adapter's to check.
 */
export function documentSortKeys(sort: unknown, where: string): DocumentSortKey[] {
  if (sort !== undefined && !Array.isArray(sort)) {
    throw invalid(`${where}: sort must be an array of { field, direction }`);
  }
  const keys: DocumentSortKey[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < (sort ?? []).length; i++) {
    const entry: unknown = (sort as unknown[])[i];
    if (!isPlainObject(entry)) throw invalid(`${where}: sort[${i}] must be a { field, direction } object`);
    const { field, direction } = entry;
    parseFieldPath(field, `${where}: sort[${i}]`);
    if (direction !== "asc" && direction !== "desc") {
      throw invalid(`${where}: sort direction must be "asc" or "desc"`);
    }
    const name = field as string;
    if (seen.has(name)) throw invalid(`${where}: sort names ${name} twice`);
    seen.add(name);
    keys.push({ field: name, descending: direction === "desc" });
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

/** Milliseconds from the epoch that a Date can hold (±100,000,000 days). */
const MAX_DATE_MS = 8.64e15;

/**
 * The sort values an `encodeFindCursor` cursor holds, each a valid value of its key's type: the id a
 * non-empty string, a date a valid Date, anything else a value `copyDocumentValue` accepts.
 * `INVALID_ARGUMENT` for a cursor that is damaged, re-encoded with other values, or belongs to a
 * different sort, so no adapter answers a forged cursor with a guess (an empty page, a restart).
 */
export function decodeFindCursor(cursor: unknown, keys: readonly DocumentSortKey[]): unknown[] {
  if (typeof cursor !== "string") throw invalid("find: the cursor must be a string");
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(cursor));
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
  return parsed.v.map((item: unknown, i) => {
    const key = keys[i]!;
    if (!isPlainObject(item) || Object.keys(item).length !== 1)
      throw invalid("find: the cursor is not valid");
    if (key.field === "id") {
      if (typeof item.j !== "string" || item.j.length === 0) {
        throw invalid("find: the cursor's id is not a non-empty string");
      }
      return item.j;
    }
    if (Object.hasOwn(item, "d")) {
      const ms = item.d;
      if (typeof ms !== "number" || !Number.isInteger(ms) || Math.abs(ms) > MAX_DATE_MS) {
        throw invalid("find: the cursor holds an invalid date");
      }
      return new Date(ms);
    }
    if (!Object.hasOwn(item, "j")) throw invalid("find: the cursor is not valid");
    return copyDocumentValue(item.j, "find: the cursor", true, 2);
  });
}

/** The checked input of a `find`. */
export interface FindPlan {
  clauses: FilterClause[];
  keys: DocumentSortKey[];
  limit: number;
  /** The sort values of the cursor's last document, when `after` was given. */
  after: unknown[] | undefined;
}

/**
 * Everything a `find` is given, checked before any I/O with `prepareFilter`, `documentSortKeys`,
 * `validateFindLimit` and `decodeFindCursor`; `RESOURCE_EXHAUSTED` (not retryable) when the filter
 * and the cursor's values together (each value counted once per sort key, as a keyset query repeats
 * them) pass `MAX_DOCUMENT_BYTES`.
 */
export function prepareFind(filter: unknown, options: FindOptions | undefined, where: string): FindPlan {
  const given: unknown = options ?? {};
  if (!isPlainObject(given)) throw invalid(`${where}: options must be a plain object`);
  const clauses = prepareFilter(filter, where, false);
  const keys = documentSortKeys(given.sort, where);
  const limit = validateFindLimit(given.limit as number | undefined);
  const after = given.after === undefined ? undefined : decodeFindCursor(given.after, keys);
  if (after !== undefined) {
    const bytes = filterBytes(clauses) + keys.length * valueBytes(after);
    if (bytes > MAX_DOCUMENT_BYTES) throw tooLarge(`${where}: the filter with the cursor`, bytes);
  }
  return { clauses, keys, limit, after };
}
