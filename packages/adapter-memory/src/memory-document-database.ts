import { randomUUID } from "node:crypto";
import {
  checkDocumentSize,
  closedError,
  type DocumentCollection,
  type DocumentData,
  type DocumentDatabase,
  type DocumentDatabaseCapabilities,
  type DocumentSortKey,
  encodeFindCursor,
  type Filter,
  type FilterClause,
  type FindOptions,
  type IndexSpec,
  InfrastructureError,
  type OperationOptions,
  type Page,
  parseFieldPath,
  prepareDocument,
  prepareFilter,
  prepareFind,
  prepareUpdate,
  type StoredDocument,
  throwIfAborted,
  type UpdateSpec,
  validateCollectionName,
} from "@proj/ports";

/**
 * Semantics follow MongoDB for every type the port allows, so this adapter is a faithful stand-in:
 * BSON sort order across types (missing = null < numbers < strings < objects < arrays < booleans <
 * dates), strings in code-point order, type-strict comparisons, a scalar condition matching any
 * element of an array field, and a document lacking a uniquely indexed field counting as `null`.
 */
export interface MemoryDocumentDatabaseOptions {
  /** Makes ids for documents inserted without one. Default `randomUUID`. */
  generateId?: () => string;
}

type Value = null | boolean | number | string | Date | Value[] | { [key: string]: Value };
type Doc = { [key: string]: Value };

interface IndexState {
  name: string;
  paths: string[][];
  fields: string[];
  unique: boolean;
}

interface CollectionState {
  docs: Map<string, Doc>;
  indexes: Map<string, IndexState>;
  /** Bumped on every write; a transaction that copied an older version fails to commit. */
  version: number;
}

type Store = Map<string, CollectionState>;

interface TransactionCopy {
  base: CollectionState | undefined;
  baseVersion: number;
  copy: CollectionState;
  written: boolean;
}

const INDEX_NAME = /^[A-Za-z0-9_.-]{1,120}$/;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function conflict(message: string, retryable = false): InfrastructureError {
  return new InfrastructureError("CONFLICT", message, { retryable });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date)
    return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets an own property even for keys like `__proto__`, which plain assignment would not store. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function own(target: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

function copyOut(value: Value): Value {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) return value.map(copyOut);
  const out: Doc = {};
  for (const [key, item] of Object.entries(value)) define(out, key, copyOut(item));
  return out;
}

function parsePath(field: string, where: string): string[] {
  const segments = parseFieldPath(field, where);
  checkPath(segments, where);
  return segments;
}

// ---- ordering and equality (MongoDB's BSON order for the types the port stores) ----

function typeRank(value: Value | undefined): number {
  if (value === undefined || value === null) return 1;
  if (typeof value === "number") return 2;
  if (typeof value === "string") return 3;
  if (typeof value === "boolean") return 6;
  if (value instanceof Date) return 7;
  if (Array.isArray(value)) return 5;
  return 4;
}

function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return i < a.length ? 1 : j < b.length ? -1 : 0;
}

function compareValues(a: Value | undefined, b: Value | undefined): number {
  const rank = typeRank(a) - typeRank(b);
  if (rank !== 0) return Math.sign(rank);
  if (a === undefined || a === null || b === undefined || b === null) return 0;
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime());
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c;
    }
    return Math.sign(a.length - b.length);
  }
  const ea = Object.entries(a as Doc);
  const eb = Object.entries(b as Doc);
  for (let i = 0; i < Math.min(ea.length, eb.length); i++) {
    const [ka, va] = ea[i]!;
    const [kb, vb] = eb[i]!;
    const c = typeRank(va) - typeRank(vb) || compareStrings(ka, kb) || compareValues(va, vb);
    if (c !== 0) return Math.sign(c);
  }
  return Math.sign(ea.length - eb.length);
}

function equalValues(a: Value | undefined, b: Value | undefined): boolean {
  return typeRank(a) === typeRank(b) && compareValues(a, b) === 0;
}

// ---- filters ----

/** Values at a path, stepping into arrays of sub-documents as MongoDB does; `undefined` = missing. */
function valuesAt(value: Value | undefined, path: readonly string[], depth = 0): (Value | undefined)[] {
  if (depth === path.length) return [value];
  if (value === null || value === undefined || typeof value !== "object" || value instanceof Date) {
    return [undefined];
  }
  const segment = path[depth]!;
  if (Array.isArray(value)) {
    const found: (Value | undefined)[] = [];
    if (/^\d+$/.test(segment)) found.push(...valuesAt(value[Number(segment)], path, depth + 1));
    for (const item of value) {
      if (isPlainObject(item)) found.push(...valuesAt(item, path, depth));
    }
    return found.length > 0 ? found : [undefined];
  }
  return valuesAt(own(value, segment) as Value | undefined, path, depth + 1);
}

/** A leaf array is matched as a whole and element by element. */
function candidates(doc: Doc, path: readonly string[]): (Value | undefined)[] {
  const out: (Value | undefined)[] = [];
  for (const value of valuesAt(doc, path)) {
    out.push(value);
    if (Array.isArray(value)) out.push(...value);
  }
  return out;
}

function matchesEqual(found: readonly (Value | undefined)[], expected: Value): boolean {
  return found.some((value) =>
    expected === null ? value === null || value === undefined : equalValues(value, expected),
  );
}

function matchesOrder(
  found: readonly (Value | undefined)[],
  op: "gt" | "gte" | "lt" | "lte",
  bound: Value,
): boolean {
  if (bound === null) return (op === "gte" || op === "lte") && matchesEqual(found, null);
  return found.some((value) => {
    if (value === undefined || typeRank(value) !== typeRank(bound) || Array.isArray(value)) return false;
    const c = compareValues(value, bound);
    return op === "gt" ? c > 0 : op === "gte" ? c >= 0 : op === "lt" ? c < 0 : c <= 0;
  });
}

type Predicate = (doc: Doc) => boolean;

function checkPath(path: readonly string[], where: string): void {
  // Reserved as in MongoDB, where the id lives in _id, so this stays a faithful stand-in.
  if (path[0] === "_id") throw invalid(`${where}: _id is reserved; the document id is id`);
}

/** A clause the port's `prepareFilter` checked; its operand is already a copy. */
function compileClause({ path, op, operand }: FilterClause): Predicate {
  const value = operand as Value;
  switch (op) {
    case "in":
    case "nin": {
      const options = operand as Value[];
      const test = (doc: Doc) => {
        const found = candidates(doc, path);
        return options.some((option) => matchesEqual(found, option));
      };
      return op === "in" ? test : (doc) => !test(doc);
    }
    case "eq":
      return (doc) => matchesEqual(candidates(doc, path), value);
    case "ne":
      return (doc) => !matchesEqual(candidates(doc, path), value);
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return (doc) => matchesOrder(candidates(doc, path), op, value);
  }
}

function compileClauses(clauses: readonly FilterClause[], where: string): Predicate {
  const predicates = clauses.map((clause) => {
    checkPath(clause.path, where);
    return compileClause(clause);
  });
  return (doc) => predicates.every((test) => test(doc));
}

// ---- sort and cursors ----

interface SortKey extends DocumentSortKey {
  path: string[];
}

function sortKeys(keys: readonly DocumentSortKey[], where: string): SortKey[] {
  return keys.map((key) => ({ ...key, path: parsePath(key.field, where) }));
}

function sortValue(doc: Doc, key: SortKey): Value {
  let value: Value | undefined = doc;
  for (const segment of key.path) {
    if (Array.isArray(value) && /^\d+$/.test(segment)) value = value[Number(segment)];
    else if (isPlainObject(value)) value = own(value, segment) as Value | undefined;
    else value = undefined;
  }
  // As MongoDB: an array sorts by its smallest element ascending, its largest descending.
  if (Array.isArray(value) && value.length > 0) {
    return value.reduce((best, item) => {
      const c = compareValues(item, best);
      return (key.descending ? c > 0 : c < 0) ? item : best;
    });
  }
  return value ?? null;
}

function compareTuples(a: readonly Value[], b: readonly Value[], keys: readonly SortKey[]): number {
  for (let i = 0; i < keys.length; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return keys[i]!.descending ? -c : c;
  }
  return 0;
}

// ---- updates ----

function setPath(doc: Doc, path: readonly string[], value: Value, where: string): void {
  let target: Value = doc;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const last = i === path.length - 1;
    if (Array.isArray(target)) {
      if (!/^\d+$/.test(segment)) throw invalid(`${where}: ${path.join(".")} crosses an array`);
      const index = Number(segment);
      while (target.length < index) target.push(null);
      if (last) target[index] = value;
      else {
        if (target[index] === undefined || target[index] === null) target[index] = {};
        target = target[index]!;
      }
    } else if (isPlainObject(target)) {
      if (last) define(target, segment, value);
      else {
        const next = own(target, segment);
        if (next === undefined || next === null) define(target, segment, {});
        target = own(target, segment) as Value;
      }
    } else {
      throw invalid(`${where}: ${path.join(".")} crosses a value that is not an object`);
    }
  }
}

function unsetPath(doc: Doc, path: readonly string[]): void {
  let target: Value | undefined = doc;
  for (let i = 0; i < path.length - 1; i++) {
    const segment = path[i]!;
    if (Array.isArray(target) && /^\d+$/.test(segment)) target = target[Number(segment)];
    else if (isPlainObject(target)) target = own(target, segment) as Value | undefined;
    else return;
  }
  const last = path[path.length - 1]!;
  if (Array.isArray(target) && /^\d+$/.test(last)) {
    // MongoDB keeps array positions: an unset element becomes null.
    if (Number(last) < target.length) target[Number(last)] = null;
  } else if (isPlainObject(target)) {
    delete target[last];
  }
}

function getPath(doc: Doc, path: readonly string[]): Value | undefined {
  let value: Value | undefined = doc;
  for (const segment of path) {
    if (Array.isArray(value) && /^\d+$/.test(segment)) value = value[Number(segment)];
    else if (isPlainObject(value)) value = own(value, segment) as Value | undefined;
    else return undefined;
  }
  return value;
}

interface CompiledUpdate {
  apply(doc: Doc): Doc;
}

function compileUpdate(update: UpdateSpec, where: string): CompiledUpdate {
  const plan = prepareUpdate(update, where);
  for (const entry of [...plan.set, ...plan.unset, ...plan.increment]) {
    if (entry.path[0] === "_id") throw invalid(`${where}: the id cannot be changed`);
  }
  return {
    apply(original) {
      const doc = copyOut(original) as Doc;
      for (const { path, value } of plan.set) setPath(doc, path, copyOut(value as Value), where);
      for (const { path } of plan.unset) unsetPath(doc, path);
      for (const { path, amount } of plan.increment) {
        const current = getPath(doc, path);
        if (current !== undefined && typeof current !== "number") {
          throw invalid(`${where}: cannot increment ${path.join(".")}, which is not a number`);
        }
        // As MongoDB: a missing field takes the amount itself, so -0 stays -0 rather than 0 + -0.
        setPath(doc, path, current === undefined ? amount : current + amount, where);
      }
      const { id, ...fields } = doc;
      checkDocumentSize(id as string, fields, where);
      return doc;
    },
  };
}

// ---- unique indexes ----

/** Every key a document contributes to an index; an array field contributes one per element. */
function indexKeys(doc: Doc, index: IndexState): string[] {
  let keys: Value[][] = [[]];
  for (const path of index.paths) {
    const value = path.length === 1 && path[0] === "id" ? (doc.id ?? null) : (getPath(doc, path) ?? null);
    const parts = Array.isArray(value) && value.length > 0 ? value : [value];
    keys = keys.flatMap((prefix) => parts.map((part) => [...prefix, part]));
  }
  return keys.map((key) => JSON.stringify(key.map(canonical)));
}

/** A string equal for values MongoDB considers equal (1 and 1.0, key order significant). */
function canonical(value: Value): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object")
    return Object.entries(value).map(([k, v]) => [k, canonical(v)]);
  return value;
}

function findDuplicate(docs: Iterable<Doc>, index: IndexState, skipId?: string): boolean {
  const seen = new Set<string>();
  for (const doc of docs) {
    if (doc.id === skipId) continue;
    for (const key of new Set(indexKeys(doc, index))) {
      if (seen.has(key)) return true;
      seen.add(key);
    }
  }
  return false;
}

function violatesUnique(
  state: CollectionState,
  candidate: Doc,
  replacingId?: string,
): IndexState | undefined {
  for (const index of state.indexes.values()) {
    if (!index.unique) continue;
    const mine = new Set(indexKeys(candidate, index));
    for (const [id, doc] of state.docs) {
      if (id === replacingId) continue;
      if (indexKeys(doc, index).some((key) => mine.has(key))) return index;
    }
  }
  return undefined;
}

// ---- the database ----

function emptyCollection(): CollectionState {
  return { docs: new Map(), indexes: new Map(), version: 0 };
}

function cloneCollection(state: CollectionState): CollectionState {
  return { docs: new Map(state.docs), indexes: new Map(state.indexes), version: state.version };
}

/** Where a collection handle reads and writes: the database itself or a transaction's copy. */
interface Scope {
  read(name: string): CollectionState | undefined;
  write(name: string): CollectionState;
  check(what: string, options?: OperationOptions): void;
}

class MemoryCollection<T extends DocumentData> implements DocumentCollection<T> {
  constructor(
    readonly name: string,
    private readonly scope: Scope,
    private readonly generateId: () => string,
  ) {}

  private what(operation: string): string {
    return `${operation} on collection ${this.name}`;
  }

  private prepare(document: unknown, where: string): Doc {
    const { id, fields } = prepareDocument(document, where, this.generateId);
    if (Object.hasOwn(fields, "_id")) throw invalid(`${where}: _id is reserved; give the id as id`);
    const doc: Doc = { id };
    for (const [key, value] of Object.entries(fields)) define(doc, key, value as Value);
    return doc;
  }

  private insertInto(state: CollectionState, doc: Doc, where: string): void {
    const id = doc.id as string;
    if (state.docs.has(id)) throw conflict(`${where}: a document with this id exists already`);
    const index = violatesUnique(state, doc);
    if (index) throw conflict(`${where}: duplicate value for unique index ${index.name}`);
    state.docs.set(id, doc);
    state.version++;
  }

  async insertOne(document: T & { id?: string }, options?: OperationOptions): Promise<StoredDocument<T>> {
    const where = this.what("insertOne");
    this.scope.check(where, options);
    const doc = this.prepare(document, where);
    this.insertInto(this.scope.write(this.name), doc, where);
    return copyOut(doc) as StoredDocument<T>;
  }

  async insertMany(
    documents: readonly (T & { id?: string })[],
    options?: OperationOptions,
  ): Promise<StoredDocument<T>[]> {
    const where = this.what("insertMany");
    this.scope.check(where, options);
    if (!Array.isArray(documents)) throw invalid(`${where}: documents must be an array`);
    const docs = documents.map((document, i) => this.prepare(document, `${where} [${i}]`));
    if (docs.length === 0) return [];
    const state = this.scope.write(this.name);
    for (const doc of docs) this.insertInto(state, doc, where);
    return docs.map((doc) => copyOut(doc) as StoredDocument<T>);
  }

  async findById(id: string, options?: OperationOptions): Promise<StoredDocument<T> | undefined> {
    this.scope.check(this.what("findById"), options);
    const doc = typeof id === "string" ? this.scope.read(this.name)?.docs.get(id) : undefined;
    return doc === undefined ? undefined : (copyOut(doc) as StoredDocument<T>);
  }

  private matching(filter: Filter | undefined, where: string, required: boolean): Doc[] {
    const test = compileClauses(prepareFilter(filter, where, required), where);
    const docs = [...(this.scope.read(this.name)?.docs.values() ?? [])];
    return docs.filter(test).sort((a, b) => compareStrings(a.id as string, b.id as string));
  }

  async find(filter?: Filter, options: FindOptions = {}): Promise<Page<StoredDocument<T>>> {
    const where = this.what("find");
    this.scope.check(where, options);
    const plan = prepareFind(filter, options, where);
    const { limit } = plan;
    const keys = sortKeys(plan.keys, where);
    const test = compileClauses(plan.clauses, where);
    const after = plan.after as Value[] | undefined;
    let rows = [...(this.scope.read(this.name)?.docs.values() ?? [])]
      .filter(test)
      .map((doc) => ({ doc, tuple: keys.map((key) => sortValue(doc, key)) }))
      .sort((a, b) => compareTuples(a.tuple, b.tuple, keys));
    if (after) rows = rows.filter((row) => compareTuples(row.tuple, after, keys) > 0);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => copyOut(row.doc) as StoredDocument<T>),
      ...(rows.length > limit && last ? { nextCursor: encodeFindCursor(keys, last.tuple) } : {}),
    };
  }

  async updateOne(
    filter: Filter,
    update: UpdateSpec,
    options?: OperationOptions,
  ): Promise<{ matched: boolean }> {
    const where = this.what("updateOne");
    this.scope.check(where, options);
    const compiled = compileUpdate(update, where);
    const target = this.matching(filter, where, true)[0];
    if (target === undefined) return { matched: false };
    const next = compiled.apply(target);
    const state = this.scope.write(this.name);
    const index = violatesUnique(state, next, target.id as string);
    if (index) throw conflict(`${where}: duplicate value for unique index ${index.name}`);
    state.docs.set(target.id as string, next);
    state.version++;
    return { matched: true };
  }

  private remove(filter: Filter, where: string, one: boolean, options?: OperationOptions): number {
    this.scope.check(where, options);
    const victims = this.matching(filter, where, true);
    const chosen = one ? victims.slice(0, 1) : victims;
    if (chosen.length === 0) return 0;
    const state = this.scope.write(this.name);
    for (const doc of chosen) state.docs.delete(doc.id as string);
    state.version++;
    return chosen.length;
  }

  async deleteOne(filter: Filter, options?: OperationOptions): Promise<number> {
    return this.remove(filter, this.what("deleteOne"), true, options);
  }

  async deleteMany(filter: Filter, options?: OperationOptions): Promise<number> {
    return this.remove(filter, this.what("deleteMany"), false, options);
  }

  async count(filter?: Filter, options?: OperationOptions): Promise<number> {
    const where = this.what("count");
    this.scope.check(where, options);
    return this.matching(filter, where, false).length;
  }

  async ensureIndex(index: IndexSpec, options?: OperationOptions): Promise<void> {
    const where = this.what("ensureIndex");
    this.scope.check(where, options);
    if (!isPlainObject(index) || !Array.isArray(index.fields) || index.fields.length === 0) {
      throw invalid(`${where}: an index needs at least one field`);
    }
    const fields = [...index.fields];
    if (new Set(fields).size !== fields.length) throw invalid(`${where}: an index names a field twice`);
    const paths = fields.map((field) => parsePath(field, where));
    const name = index.name ?? fields.map((field) => `${field}_1`).join("_");
    if (typeof name !== "string" || !INDEX_NAME.test(name)) {
      throw invalid(
        `${where}: index name ${typeof name === "string" ? JSON.stringify(name) : "must be a string"} is not valid`,
      );
    }
    // The id is always uniquely indexed, as MongoDB's _id index is.
    if (fields.length === 1 && fields[0] === "id") return;
    const unique = index.unique === true;
    const wanted: IndexState = { name, fields, paths, unique };
    const state = this.scope.write(this.name);
    for (const existing of state.indexes.values()) {
      const sameFields = existing.fields.join("\0") === fields.join("\0");
      if (existing.name === name && sameFields && existing.unique === unique) return;
      if (existing.name === name || sameFields) {
        throw conflict(`${where}: index ${existing.name} exists already with a different definition`);
      }
    }
    if (unique && findDuplicate(state.docs.values(), wanted)) {
      throw conflict(`${where}: existing documents hold duplicate values for unique index ${name}`);
    }
    state.indexes.set(name, wanted);
    state.version++;
  }
}

class MemoryDocumentDatabase implements DocumentDatabase {
  readonly capabilities: DocumentDatabaseCapabilities = { transactions: true };
  private readonly store: Store = new Map();
  private closed = false;
  private readonly scope: Scope;

  constructor(private readonly generateId: () => string) {
    this.scope = {
      read: (name) => this.store.get(name),
      write: (name) => {
        let state = this.store.get(name);
        if (state === undefined) {
          state = emptyCollection();
          this.store.set(name, state);
        }
        return state;
      },
      check: (what, options) => this.check(what, options),
    };
  }

  private check(what: string, options?: OperationOptions): void {
    if (this.closed) throw closedError("memory document database");
    throwIfAborted(options?.signal, what);
  }

  collection<T extends DocumentData = DocumentData>(name: string): DocumentCollection<T> {
    validateCollectionName(name);
    return new MemoryCollection<T>(name, this.scope, this.generateId);
  }

  async dropCollection(name: string, options?: OperationOptions): Promise<void> {
    validateCollectionName(name);
    this.check(`dropCollection ${name}`, options);
    this.store.delete(name);
  }

  async transaction<T>(
    work: (db: Pick<DocumentDatabase, "collection">) => Promise<T>,
    options?: OperationOptions,
  ): Promise<T> {
    this.check("transaction", options);
    // Copy-on-write: a collection is copied the first time the transaction touches it, so reads see
    // a stable snapshot plus the transaction's own writes, and nothing leaks out before commit.
    // Documents are replaced, never mutated in place, so copying the maps suffices.
    const copies = new Map<string, TransactionCopy>();
    let finished = false;
    const touch = (name: string) => {
      let entry = copies.get(name);
      if (entry === undefined) {
        const base = this.store.get(name);
        entry = {
          base,
          baseVersion: base?.version ?? 0,
          copy: base ? cloneCollection(base) : emptyCollection(),
          written: false,
        };
        copies.set(name, entry);
      }
      return entry;
    };
    const scope: Scope = {
      read: (name) => touch(name).copy,
      write: (name) => {
        const entry = touch(name);
        entry.written = true;
        return entry.copy;
      },
      check: (what, opts) => {
        if (finished) throw closedError("transaction");
        this.check(what, opts);
      },
    };
    const handle = {
      collection: <C extends DocumentData = DocumentData>(name: string): DocumentCollection<C> => {
        validateCollectionName(name);
        return new MemoryCollection<C>(name, scope, this.generateId);
      },
    };
    try {
      const result = await work(handle);
      this.check("transaction commit", options);
      const written = [...copies].filter(([, entry]) => entry.written);
      for (const [name, entry] of written) {
        const current = this.store.get(name);
        if (current !== entry.base || (current?.version ?? 0) !== entry.baseVersion) {
          throw conflict(`transaction: collection ${name} was written by another writer meanwhile`, true);
        }
      }
      for (const [name, entry] of written) this.store.set(name, entry.copy);
      return result;
    } finally {
      finished = true;
    }
  }

  async ping(options?: OperationOptions): Promise<void> {
    this.check("ping", options);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.store.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A `DocumentDatabase` held in memory: the reference for the contract and a faithful test double. */
export function createMemoryDocumentDatabase(options: MemoryDocumentDatabaseOptions = {}): DocumentDatabase {
  return new MemoryDocumentDatabase(options.generateId ?? randomUUID);
}
