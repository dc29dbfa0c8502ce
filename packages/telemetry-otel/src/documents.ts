import { type Attributes, type Span, SpanKind } from "@opentelemetry/api";
import type {
  DocumentCollection,
  DocumentData,
  DocumentDatabase,
  DocumentDatabaseCapabilities,
  Filter,
  FindOptions,
  IndexSpec,
  OperationOptions,
  Page,
  StoredDocument,
  UpdateSpec,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { DB_DURATION, dbOperation, dbSpanName } from "./db.js";
import { type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

/** `db.system.name` of a document database when the `attributes` option names none. */
export const DEFAULT_DOCUMENT_SYSTEM = "other_nosql";

type CollectionMethod =
  | "insertOne"
  | "insertMany"
  | "findById"
  | "find"
  | "updateOne"
  | "deleteOne"
  | "deleteMany"
  | "count"
  | "ensureIndex";

const COLLECTION_METHODS: readonly CollectionMethod[] = [
  "insertOne",
  "insertMany",
  "findById",
  "find",
  "updateOne",
  "deleteOne",
  "deleteMany",
  "count",
  "ensureIndex",
];

interface DocumentShared {
  readonly telemetry: Telemetry;
  readonly collection: Record<CollectionMethod, Operation>;
  readonly dropCollection: Operation;
  readonly transaction: Operation;
  readonly ping: Operation;
  readonly namespace: unknown;
}

/**
 * Traces and measures every call of a `DocumentDatabase` and of its collections: one `CLIENT`
 * span per call named `{method} {collection}` (`find orders`), with `db.system.name` (default
 * `other_nosql`; set `mongodb` through `attributes`), `db.operation.name`, `db.collection.name`,
 * `db.response.returned_rows` for reads, and `error.type` on failure. Calls made inside
 * `transaction` nest under its span. Documents, filters, updates and ids are never recorded.
 */
export function instrumentDocumentDatabase(
  db: DocumentDatabase,
  options: InstrumentOptions = {},
): DocumentDatabase {
  const telemetry = new Telemetry(options, [DB_DURATION]);
  const op = (method: string) =>
    dbOperation(telemetry, {
      port: "DocumentDatabase",
      method,
      system: DEFAULT_DOCUMENT_SYSTEM,
      kind: SpanKind.CLIENT,
    });
  const collection = Object.fromEntries(COLLECTION_METHODS.map((method) => [method, op(method)])) as Record<
    CollectionMethod,
    Operation
  >;
  return new InstrumentedDocumentDatabase(db, {
    telemetry,
    collection,
    dropCollection: op("dropCollection"),
    transaction: op("transaction"),
    ping: op("ping"),
    namespace: telemetry.userAttributes[ATTR.dbNamespace],
  });
}

const returnedRows = (span: Span, documents: unknown) => {
  if (Array.isArray(documents)) span.setAttribute(ATTR.dbReturnedRows, documents.length);
};
const returnedOne = (span: Span, document: unknown) =>
  span.setAttribute(ATTR.dbReturnedRows, document === undefined ? 0 : 1);
const returnedPage = (span: Span, page: Page<unknown>) => returnedRows(span, page?.items);

class InstrumentedCollection<T extends DocumentData> implements DocumentCollection<T> {
  readonly #inner: DocumentCollection<T>;
  readonly #shared: DocumentShared;
  readonly #attributes: Attributes;
  readonly #names = new Map<CollectionMethod, string>();

  constructor(inner: DocumentCollection<T>, shared: DocumentShared) {
    this.#inner = inner;
    this.#shared = shared;
    this.#attributes = typeof inner.name === "string" ? { [ATTR.dbCollectionName]: inner.name } : {};
  }

  get name(): string {
    return this.#inner.name;
  }

  #run<R>(method: CollectionMethod, work: () => Promise<R>, onResult?: (span: Span, result: R) => void) {
    let name = this.#names.get(method);
    if (name === undefined) {
      const collection = this.#attributes[ATTR.dbCollectionName] as string | undefined;
      name = dbSpanName(method, collection, this.#shared.namespace);
      this.#names.set(method, name);
    }
    return this.#shared.telemetry.run(
      this.#shared.collection[method],
      work,
      onResult,
      name,
      this.#attributes,
      this.#attributes,
    );
  }

  insertOne(document: T & { id?: string }, options?: OperationOptions): Promise<StoredDocument<T>> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.insertOne(document, options);
    return this.#run("insertOne", () => this.#inner.insertOne(document, options));
  }

  insertMany(
    documents: readonly (T & { id?: string })[],
    options?: OperationOptions,
  ): Promise<StoredDocument<T>[]> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.insertMany(documents, options);
    return this.#run("insertMany", () => this.#inner.insertMany(documents, options));
  }

  findById(id: string, options?: OperationOptions): Promise<StoredDocument<T> | undefined> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.findById(id, options);
    return this.#run("findById", () => this.#inner.findById(id, options), returnedOne);
  }

  find(filter?: Filter, options?: FindOptions): Promise<Page<StoredDocument<T>>> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.find(filter, options);
    return this.#run("find", () => this.#inner.find(filter, options), returnedPage);
  }

  updateOne(filter: Filter, update: UpdateSpec, options?: OperationOptions): Promise<{ matched: boolean }> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.updateOne(filter, update, options);
    return this.#run("updateOne", () => this.#inner.updateOne(filter, update, options));
  }

  deleteOne(filter: Filter, options?: OperationOptions): Promise<number> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.deleteOne(filter, options);
    return this.#run("deleteOne", () => this.#inner.deleteOne(filter, options));
  }

  deleteMany(filter: Filter, options?: OperationOptions): Promise<number> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.deleteMany(filter, options);
    return this.#run("deleteMany", () => this.#inner.deleteMany(filter, options));
  }

  count(filter?: Filter, options?: OperationOptions): Promise<number> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.count(filter, options);
    return this.#run("count", () => this.#inner.count(filter, options));
  }

  ensureIndex(index: IndexSpec, options?: OperationOptions): Promise<void> {
    if (this.#shared.telemetry.passthrough()) return this.#inner.ensureIndex(index, options);
    return this.#run("ensureIndex", () => this.#inner.ensureIndex(index, options));
  }
}

class InstrumentedDocumentDatabase implements DocumentDatabase {
  readonly #inner: DocumentDatabase;
  readonly #shared: DocumentShared;

  constructor(inner: DocumentDatabase, shared: DocumentShared) {
    this.#inner = inner;
    this.#shared = shared;
  }

  get capabilities(): DocumentDatabaseCapabilities {
    return this.#inner.capabilities;
  }

  collection<T extends DocumentData = DocumentData>(name: string): DocumentCollection<T> {
    return new InstrumentedCollection(this.#inner.collection<T>(name), this.#shared);
  }

  dropCollection(name: string, options?: OperationOptions): Promise<void> {
    const { telemetry } = this.#shared;
    if (telemetry.passthrough()) return this.#inner.dropCollection(name, options);
    const attributes: Attributes | undefined =
      typeof name === "string" ? { [ATTR.dbCollectionName]: name } : undefined;
    return telemetry.run(
      this.#shared.dropCollection,
      () => this.#inner.dropCollection(name, options),
      undefined,
      dbSpanName("dropCollection", typeof name === "string" ? name : undefined, this.#shared.namespace),
      attributes,
      attributes,
    );
  }

  transaction<T>(
    work: (db: Pick<DocumentDatabase, "collection">) => Promise<T>,
    options?: OperationOptions,
  ): Promise<T> {
    const { telemetry } = this.#shared;
    if (telemetry.passthrough() || typeof work !== "function") return this.#inner.transaction(work, options);
    const shared = this.#shared;
    return telemetry.run(shared.transaction, () =>
      this.#inner.transaction(
        (tx) =>
          work({
            collection: <D extends DocumentData = DocumentData>(name: string) =>
              new InstrumentedCollection<D>(tx.collection<D>(name), shared),
          }),
        options,
      ),
    );
  }

  ping(options?: OperationOptions): Promise<void> {
    const { telemetry } = this.#shared;
    if (telemetry.passthrough()) return this.#inner.ping(options);
    return telemetry.run(this.#shared.ping, () => this.#inner.ping(options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}
