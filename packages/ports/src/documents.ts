import { InfrastructureError } from "./errors.js";
import type { Closeable, JsonValue, OperationOptions, Page } from "./resources.js";

/**
 * A stored document: JSON fields plus a string `id`. A field may be absent but never `undefined`:
 * `undefined` anywhere in a document, filter or update is `INVALID_ARGUMENT` (the type admits it only
 * so interfaces with optional fields fit).
 */
export type DocumentData = { [field: string]: JsonValue | Date | undefined };
export type StoredDocument<T extends DocumentData = DocumentData> = T & { id: string };

/** A value a filter compares with. */
export type FilterScalar = string | number | boolean | null | Date;

const CONDITION_MARKER = Symbol.for("@proj/ports.FilterCondition");

export type ComparisonOperator = "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin";

/** An operator condition; only the `where` helpers make one, so no user input can pose as one. */
export interface FilterCondition {
  readonly [CONDITION_MARKER]: true;
  readonly op: ComparisonOperator;
  readonly value: FilterScalar | readonly FilterScalar[];
}

function condition(op: ComparisonOperator, value: FilterScalar | readonly FilterScalar[]): FilterCondition {
  const refuse = (message: string) =>
    new InfrastructureError("INVALID_ARGUMENT", `where.${op} ${message}`, { retryable: false });
  if (op === "in" || op === "nin") {
    if (!Array.isArray(value)) throw refuse("needs an array");
    // An index loop: `some` skips the holes of a sparse array, which are undefined too.
    for (let i = 0; i < value.length; i++)
      if (value[i] === undefined) throw refuse("of a list holding undefined");
  } else if (value === undefined) throw refuse("of undefined");
  return { [CONDITION_MARKER]: true, op, value };
}

/** Operator conditions for `Filter` fields: `{ age: where.gte(18), plan: where.in(["pro"]) }`. */
export const where = {
  eq: (value: FilterScalar) => condition("eq", value),
  ne: (value: FilterScalar) => condition("ne", value),
  gt: (value: FilterScalar) => condition("gt", value),
  gte: (value: FilterScalar) => condition("gte", value),
  lt: (value: FilterScalar) => condition("lt", value),
  lte: (value: FilterScalar) => condition("lte", value),
  in: (values: readonly FilterScalar[]) => condition("in", values),
  nin: (values: readonly FilterScalar[]) => condition("nin", values),
};

/** Whether `value` is a `where` condition: the marker must be an own property, never inherited. */
export function isFilterCondition(value: unknown): value is FilterCondition {
  return (
    typeof value === "object" &&
    value !== null &&
    Object.hasOwn(value, CONDITION_MARKER) &&
    (value as Record<symbol, unknown>)[CONDITION_MARKER] === true
  );
}

/**
 * A portable filter: every field must match (AND). A field's value is either a `where` condition
 * or a value compared for equality. A plain object or array given as a value is a value, never an
 * operator: `{ name: { $gt: "" } }` matches only documents whose `name` equals that object.
 * Field names are top-level or dotted paths (`address.city`, at most 100 segments); a name starting
 * with `$` or containing NUL is `INVALID_ARGUMENT`. `id` filters on the document id.
 * A field whose value is `undefined` is `INVALID_ARGUMENT`, never "no condition": `{ email: undefined }`
 * must not match every document. So is a condition whose operator is not the port's own (a forged
 * `op` such as `__proto__`), an operand holding a `_bsontype` key or nested deeper than 100 levels;
 * operands over 16 MiB in all are `RESOURCE_EXHAUSTED`. The checks are `prepareFilter`'s.
 */
export type Filter = { [field: string]: FilterCondition | JsonValue | Date };

export interface SortField {
  field: string;
  direction: "asc" | "desc";
}

export interface FindOptions extends OperationOptions {
  /**
   * Sort order, an array of `{ field, direction }`; `id` ascending is always appended as the
   * tie-breaker. Anything else (an object, a `null` entry, a bad path) is `INVALID_ARGUMENT`.
   */
  sort?: readonly SortField[];
  /** Page size, 1 to 1000. Default 100. */
  limit?: number;
  /**
   * `nextCursor` of the previous page, from the same filter and sort. A cursor that is damaged,
   * belongs to another sort, or does not decode to valid values of the sort's types (a string id, a
   * valid date) is `INVALID_ARGUMENT`.
   */
  after?: string;
}

/**
 * What `updateOne` changes. Only these three parts; another key (`$set`) or a part given as
 * `undefined` is `INVALID_ARGUMENT`, as is `undefined` inside a value (use `unset` to remove a field).
 */
export interface UpdateSpec {
  /** Fields to set (dotted paths allowed). */
  set?: DocumentData;
  /** Fields to remove. */
  unset?: readonly string[];
  /** Numeric fields to add to (a missing field starts at 0). */
  increment?: Record<string, number>;
}

export interface IndexSpec {
  /** Fields of the index, in order. */
  fields: readonly string[];
  unique?: boolean;
  /** Stable name; derived from the fields when absent. */
  name?: string;
}

/**
 * One collection of documents.
 *
 * Input limits, the same on every adapter and checked before any I/O (`documents-rules.ts`):
 * - `undefined` anywhere in a document, filter or update is `INVALID_ARGUMENT`; so is a key named
 *   `_bsontype` (a BSON type tag) at any depth, and nesting deeper than 100 levels (the document is
 *   level 1, each object or array inside adds one), as MongoDB refuses.
 * - A document over 16 MiB as BSON (`MAX_DOCUMENT_BYTES`, its id counted as a string `_id`), and a
 *   filter or update whose values pass that size, are `RESOURCE_EXHAUSTED` with `retryable: false`;
 *   so is an update that would grow a stored document past it.
 * - `updateOne`, `deleteOne` and `deleteMany` need a filter (`{}` addresses every document); a
 *   missing one is `INVALID_ARGUMENT`.
 *
 * Contract:
 * - `insertOne` stores a copy of the document and returns it with its `id`: the one given (a
 *   non-empty string), else a new unique one. An id or unique-index value that exists already is
 *   `CONFLICT`, and nothing is stored. `insertMany` is all or nothing for validation, and stops at
 *   the first conflict, returning `CONFLICT` (documents before it stay stored).
 * - `findById` returns the document or `undefined`. Returned documents are copies.
 * - `find` returns the documents matching the filter in sort order, `limit` at a time, with a
 *   cursor for the next page; paging through with the cursor visits every matching document once.
 *   Comparison of values of different types (a number with a string) matches nothing.
 * - `updateOne` applies the update to the first document matching the filter (by sort on id) and
 *   returns whether one matched; an update that breaks a unique index is `CONFLICT` and changes
 *   nothing. The same field in two of set/unset/increment is `INVALID_ARGUMENT`; so is changing `id`.
 * - `deleteOne`/`deleteMany` return how many documents were removed. `count` counts matches.
 * - `ensureIndex` creates an index if absent (idempotent). Creating a unique index over existing
 *   duplicates is `CONFLICT`.
 */
export interface DocumentCollection<T extends DocumentData = DocumentData> {
  readonly name: string;
  insertOne(document: T & { id?: string }, options?: OperationOptions): Promise<StoredDocument<T>>;
  insertMany(
    documents: readonly (T & { id?: string })[],
    options?: OperationOptions,
  ): Promise<StoredDocument<T>[]>;
  findById(id: string, options?: OperationOptions): Promise<StoredDocument<T> | undefined>;
  find(filter?: Filter, options?: FindOptions): Promise<Page<StoredDocument<T>>>;
  updateOne(filter: Filter, update: UpdateSpec, options?: OperationOptions): Promise<{ matched: boolean }>;
  deleteOne(filter: Filter, options?: OperationOptions): Promise<number>;
  deleteMany(filter: Filter, options?: OperationOptions): Promise<number>;
  count(filter?: Filter, options?: OperationOptions): Promise<number>;
  ensureIndex(index: IndexSpec, options?: OperationOptions): Promise<void>;
}

export interface DocumentDatabaseCapabilities {
  /** `transaction` works; otherwise it rejects with `NOT_SUPPORTED`. */
  transactions: boolean;
}

/**
 * A database of named collections. Collection names are 1 to 120 characters of letters, digits,
 * `_`, `-` and `.`, not starting with `system.` (`INVALID_ARGUMENT` otherwise).
 */
export interface DocumentDatabase extends Closeable {
  readonly capabilities: DocumentDatabaseCapabilities;
  collection<T extends DocumentData = DocumentData>(name: string): DocumentCollection<T>;
  /** Removes a collection and its indexes; a missing one is not an error. */
  dropCollection(name: string, options?: OperationOptions): Promise<void>;
  /**
   * Runs `work` atomically: all its writes commit when it resolves, none when it throws.
   * `NOT_SUPPORTED` where the backend has no transactions.
   */
  transaction<T>(
    work: (db: Pick<DocumentDatabase, "collection">) => Promise<T>,
    options?: OperationOptions,
  ): Promise<T>;
  ping(options?: OperationOptions): Promise<void>;
}
