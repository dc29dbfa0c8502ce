import {
  type ComparisonOperator,
  type DocumentData,
  type DocumentSortKey,
  documentSortKeys,
  type FilterClause,
  type FindOptions,
  type IndexSpec,
  InfrastructureError,
  parseFieldPath,
  prepareDocument,
  prepareFilter,
  prepareUpdate,
  type StoredDocument,
} from "@proj/ports";
import { type Document, ObjectId } from "mongodb";

/**
 * Pure translation between the port and MongoDB's query language. Every user value reaches the
 * server as the operand of an operator this module chose (`$eq`, `$in`, `$set`...), never as a key,
 * so a value shaped like `{ "$gt": "" }` stays a value.
 */

/** How the port's string ids map to `_id`. */
export type IdMode = "string" | "objectId";

export const OBJECT_ID_HEX = /^[0-9a-f]{24}$/;

const OPERATORS: Readonly<Record<ComparisonOperator, string>> = {
  eq: "$eq",
  ne: "$ne",
  gt: "$gt",
  gte: "$gte",
  lt: "$lt",
  lte: "$lte",
  in: "$in",
  nin: "$nin",
};

/** BSON sort order of the types the port stores, after null (which also stands for missing). */
const TYPE_ORDER = ["number", "string", "object", "array", "bool", "date"] as const;

export function invalid(message: string): InfrastructureError {
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

/** A field path of the port (`address.city`, `id`) as a MongoDB path. */
export function toPath(field: string, where: string): string {
  parseFieldPath(field, where);
  // _id is where the adapter keeps the id; callers name it id, so a field of their own cannot hide there.
  if (field === "_id" || field.startsWith("_id."))
    throw invalid(`${where}: _id is reserved; the document id is id`);
  return field === "id" ? "_id" : field;
}

// ---- ids and documents ----

export function toMongoId(id: string, mode: IdMode): string | ObjectId {
  return mode === "objectId" && OBJECT_ID_HEX.test(id) ? ObjectId.createFromHexString(id) : id;
}

export function fromMongoId(id: unknown): string {
  if (id instanceof ObjectId) return id.toHexString();
  if (typeof id === "string") return id;
  throw new InfrastructureError("INTERNAL", `a stored _id is neither a string nor an ObjectId`);
}

/** Converts an id operand of a filter; other values stay as they are (and match no id). */
function idOperand(value: unknown, mode: IdMode): unknown {
  if (Array.isArray(value)) return value.map((item) => idOperand(item, mode));
  return typeof value === "string" ? toMongoId(value, mode) : value;
}

/** A document of `insertOne`/`insertMany`, checked by the port's `prepareDocument`, as stored. */
export function toMongoDocument(
  document: unknown,
  mode: IdMode,
  where: string,
): { _id: string | ObjectId } & Document {
  const { id, fields } = prepareDocument(document, where, () => new ObjectId().toHexString());
  if (Object.hasOwn(fields, "_id")) throw invalid(`${where}: _id is reserved; give the id as id`);
  if (mode === "objectId" && !OBJECT_ID_HEX.test(id)) {
    throw invalid(`${where}: id must be 24 lower-case hex digits in objectId mode`);
  }
  const out: { _id: string | ObjectId } & Document = { _id: toMongoId(id, mode) };
  for (const [key, value] of Object.entries(fields)) define(out, key, value);
  return out;
}

export function fromMongoDocument<T extends DocumentData>(raw: Document): StoredDocument<T> {
  const out: Record<string, unknown> = { id: fromMongoId(raw._id) };
  for (const [key, value] of Object.entries(raw)) {
    if (key !== "_id") define(out, key, value);
  }
  return out as StoredDocument<T>;
}

// ---- filters ----

/**
 * A filter as a MongoDB query, checked by the port's `prepareFilter` first; `required` refuses a
 * missing filter (updates and deletes).
 */
export function translateFilter(filter: unknown, mode: IdMode, where: string, required = false): Document {
  return translateClauses(prepareFilter(filter, where, required), mode, where);
}

/** Clauses checked by the port's `prepareFilter` as a MongoDB query. */
export function translateClauses(clauses: readonly FilterClause[], mode: IdMode, where: string): Document {
  const parts: Document[] = [];
  for (const clause of clauses) {
    const path = toPath(clause.field, where);
    // Own properties only: the op was checked by the port, and an inherited name must never resolve.
    if (!Object.hasOwn(OPERATORS, clause.op)) throw invalid(`${where}.${clause.field}: unknown operator`);
    const operator = OPERATORS[clause.op];
    // Operands may hold `$` and dotted keys: they reach the server only as the operand of the
    // operator chosen here, where MongoDB reads them literally.
    parts.push({ [path]: { [operator]: path === "_id" ? idOperand(clause.operand, mode) : clause.operand } });
  }
  if (parts.length === 0) return {};
  return parts.length === 1 ? parts[0]! : { $and: parts };
}

// ---- sort and keyset cursors ----

export interface SortKey extends DocumentSortKey {
  /** The MongoDB path: `id` is `_id`. */
  path: string;
}

/** Sort keys checked by the port's `documentSortKeys`, with their MongoDB paths. */
export function toSortKeys(keys: readonly DocumentSortKey[], where: string): SortKey[] {
  return keys.map((key) => ({ ...key, path: toPath(key.field, where) }));
}

export function sortKeys(sort: FindOptions["sort"], where: string): SortKey[] {
  return toSortKeys(documentSortKeys(sort, where), where);
}

export function mongoSort(keys: readonly SortKey[]): Document {
  const sort: Document = {};
  for (const key of keys) sort[key.path] = key.descending ? -1 : 1;
  return sort;
}

function valueAt(raw: Document, path: string): unknown {
  let value: unknown = raw;
  for (const segment of path.split(".")) {
    if (Array.isArray(value) && /^\d+$/.test(segment)) value = value[Number(segment)];
    else if (isPlainObject(value)) value = Object.hasOwn(value, segment) ? value[segment] : undefined;
    else return null;
  }
  return value ?? null;
}

/** The sort values of a returned document, in port terms (ids as strings). */
export function sortTuple(raw: Document, keys: readonly SortKey[]): unknown[] {
  return keys.map((key) => (key.path === "_id" ? fromMongoId(raw._id) : valueAt(raw, key.path)));
}

function typeName(value: unknown): (typeof TYPE_ORDER)[number] {
  if (typeof value === "number") return "number";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (value instanceof Date) return "date";
  return Array.isArray(value) ? "array" : "object";
}

/**
 * Documents that sort strictly after `value` on one field. MongoDB's `$gt`/`$lt` only compare
 * within a type, so the values of the types that sort after (or, descending, before) are added
 * with `$type`, and null/missing (first ascending, last descending) explicitly.
 */
function afterOnField(path: string, value: unknown, descending: boolean): Document | undefined {
  // Every _id of a collection has one type (the id mode's), so no other type can follow.
  if (path === "_id") return { _id: { [descending ? "$lt" : "$gt"]: value } };
  if (value === null) return descending ? undefined : { [path]: { $ne: null } };
  const rank = TYPE_ORDER.indexOf(typeName(value));
  const others = descending ? TYPE_ORDER.slice(0, rank) : TYPE_ORDER.slice(rank + 1);
  const parts: Document[] = [{ [path]: { [descending ? "$lt" : "$gt"]: value } }];
  for (const type of others) parts.push({ [path]: { $type: type } });
  if (descending) parts.push({ [path]: { $eq: null } });
  return parts.length === 1 ? parts[0] : { $or: parts };
}

/** The filter for "after this tuple" in the keys' order: OR over each key of (equal prefix AND after). */
export function keysetFilter(keys: readonly SortKey[], tuple: readonly unknown[], mode: IdMode): Document {
  const operand = (key: SortKey, value: unknown) => (key.path === "_id" ? idOperand(value, mode) : value);
  const branches: Document[] = [];
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const after = afterOnField(key.path, operand(key, tuple[k]), key.descending);
    if (after === undefined) continue;
    const equal = keys
      .slice(0, k)
      .map((prefix, i) => ({ [prefix.path]: { $eq: operand(prefix, tuple[i]) } }));
    branches.push(equal.length === 0 ? after : { $and: [...equal, after] });
  }
  if (branches.length === 0) return { _id: { $in: [] } };
  return branches.length === 1 ? branches[0]! : { $or: branches };
}

// ---- updates and indexes ----

/** An update, checked by the port's `prepareUpdate`, as MongoDB update operators. */
export function translateUpdate(update: unknown, where: string): Document {
  const plan = prepareUpdate(update, where);
  const $set: Document = {};
  const $unset: Document = {};
  const $inc: Document = {};
  for (const { field, value } of plan.set) define($set, toPath(field, where), value);
  for (const { field } of plan.unset) define($unset, toPath(field, where), "");
  for (const { field, amount } of plan.increment) define($inc, toPath(field, where), amount);
  const out: Document = {};
  if (plan.set.length > 0) out.$set = $set;
  if (plan.unset.length > 0) out.$unset = $unset;
  if (plan.increment.length > 0) out.$inc = $inc;
  return out;
}

const INDEX_NAME = /^[A-Za-z0-9_.-]{1,120}$/;

export interface MongoIndex {
  name: string;
  key: Document;
  unique: boolean;
}

export function translateIndex(index: IndexSpec, where: string): MongoIndex {
  const given: unknown = index;
  if (!isPlainObject(given) || !Array.isArray(index.fields) || index.fields.length === 0) {
    throw invalid(`${where}: an index needs at least one field`);
  }
  if (new Set(index.fields).size !== index.fields.length)
    throw invalid(`${where}: an index names a field twice`);
  const key: Document = {};
  for (const field of index.fields) key[toPath(field, where)] = 1;
  const name = index.name ?? index.fields.map((field) => `${field}_1`).join("_");
  if (typeof name !== "string" || !INDEX_NAME.test(name)) {
    throw invalid(
      `${where}: index name ${typeof name === "string" ? JSON.stringify(name) : "must be a string"} is not valid`,
    );
  }
  return { name, key, unique: index.unique === true };
}

export function sameKey(a: Document, b: Document): boolean {
  return JSON.stringify(Object.entries(a)) === JSON.stringify(Object.entries(b));
}
