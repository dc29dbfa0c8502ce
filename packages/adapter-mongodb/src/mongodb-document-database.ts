import {
  abortable,
  cancelledError,
  closedError,
  type DocumentCollection,
  type DocumentData,
  type DocumentDatabase,
  type DocumentDatabaseCapabilities,
  encodeFindCursor,
  type Filter,
  type FindOptions,
  hasLoneSurrogate,
  type IndexSpec,
  InfrastructureError,
  type OperationOptions,
  type Page,
  prepareFind,
  type StoredDocument,
  throwIfAborted,
  type UpdateSpec,
  validateCollectionName,
} from "@proj/ports";
import {
  type ClientSession,
  type Collection,
  type Db,
  type Document,
  MongoClient,
  type MongoClientOptions,
  type ObjectId,
} from "mongodb";
import { mapMongoError } from "./map-mongodb-error.js";
import {
  fromMongoDocument,
  type IdMode,
  invalid,
  keysetFilter,
  mongoSort,
  OBJECT_ID_HEX,
  sameKey,
  sortTuple,
  toMongoDocument,
  toMongoId,
  toSortKeys,
  translateClauses,
  translateFilter,
  translateIndex,
  translateUpdate,
} from "./mongodb-translate.js";

export interface MongoDocumentDatabaseOptions {
  /** Connection string, `mongodb://` or `mongodb+srv://`. Never echoed in errors. */
  url: string;
  /** Database that holds the collections: 1 to 63 letters, digits, `_` or `-`. */
  database: string;
  /**
   * `"string"` (default): `_id` is the port's id string; new ids are ObjectId hex strings.
   * `"objectId"`: `_id` is an ObjectId and the port's id is its 24-digit lower-case hex; a given id
   * must have that form.
   */
  idMode?: IdMode;
  /**
   * Whether the server runs multi-document transactions. Detected from `hello` when absent: a
   * replica-set member or a `mongos` has them, a standalone server does not.
   */
  transactions?: boolean;
  /**
   * Passed to `MongoClient` (pool size, TLS, timeouts...). `ignoreUndefined` is always on and
   * `fieldsAsRaw` always empty (documents are decoded whole).
   */
  clientOptions?: MongoClientOptions;
}

/** A `DocumentDatabase` over MongoDB, with the driver's client and database as an escape hatch. */
export interface MongoDocumentDatabase extends DocumentDatabase {
  readonly client: MongoClient;
  readonly db: Db;
}

const DATABASE_NAME = /^[A-Za-z0-9_-]{1,63}$/;

/** A stored document as the driver sees it. */
type RawDocument = { _id: string | ObjectId } & Document;

/** What a collection handle runs through: the database's guard, and a session inside a transaction. */
interface Runner {
  readonly idMode: IdMode;
  readonly session: ClientSession | undefined;
  run<T>(what: string, options: OperationOptions | undefined, work: () => Promise<T>): Promise<T>;
  collection(name: string): Collection<RawDocument>;
}

class MongoCollection<T extends DocumentData> implements DocumentCollection<T> {
  private readonly raw: Collection<RawDocument>;

  constructor(
    readonly name: string,
    private readonly runner: Runner,
  ) {
    this.raw = runner.collection(name);
  }

  private what(operation: string): string {
    return `${operation} on collection ${this.name}`;
  }

  private get session(): { session?: ClientSession } {
    return this.runner.session ? { session: this.runner.session } : {};
  }

  async insertOne(document: T & { id?: string }, options?: OperationOptions): Promise<StoredDocument<T>> {
    const where = this.what("insertOne");
    return this.runner.run(where, options, async () => {
      const doc = toMongoDocument(document, this.runner.idMode, where);
      const stored = fromMongoDocument<T>(doc);
      await this.raw.insertOne(doc, this.session);
      return stored;
    });
  }

  async insertMany(
    documents: readonly (T & { id?: string })[],
    options?: OperationOptions,
  ): Promise<StoredDocument<T>[]> {
    const where = this.what("insertMany");
    return this.runner.run(where, options, async () => {
      if (!Array.isArray(documents)) throw invalid(`${where}: documents must be an array`);
      const docs = documents.map((document, i) =>
        toMongoDocument(document, this.runner.idMode, `${where} [${i}]`),
      );
      if (docs.length === 0) return [];
      const stored = docs.map((doc) => fromMongoDocument<T>(doc));
      await this.raw.insertMany(docs, { ordered: true, ...this.session });
      return stored;
    });
  }

  async findById(id: string, options?: OperationOptions): Promise<StoredDocument<T> | undefined> {
    return this.runner.run(this.what("findById"), options, async () => {
      // No stored id holds a lone surrogate; sent as U+FFFD it would find another document.
      if (typeof id !== "string" || hasLoneSurrogate(id)) return undefined;
      const raw = await this.raw.findOne(
        { _id: { $eq: toMongoId(id, this.runner.idMode) } },
        { ...this.session, ...(options?.signal ? { signal: options.signal } : {}) },
      );
      return raw === null ? undefined : fromMongoDocument<T>(raw);
    });
  }

  async find(filter?: Filter, options: FindOptions = {}): Promise<Page<StoredDocument<T>>> {
    const where = this.what("find");
    return this.runner.run(where, options, async () => {
      const plan = prepareFind(filter, options, where);
      const { limit } = plan;
      const keys = toSortKeys(plan.keys, where);
      let query = translateClauses(plan.clauses, this.runner.idMode, where);
      if (plan.after !== undefined) {
        const idAt = keys.findIndex((key) => key.path === "_id");
        if (this.runner.idMode === "objectId" && !OBJECT_ID_HEX.test(plan.after[idAt] as string)) {
          throw invalid(`${where}: the cursor's id is not an ObjectId's hex`);
        }
        const after = keysetFilter(keys, plan.after, this.runner.idMode);
        query = Object.keys(query).length === 0 ? after : { $and: [query, after] };
      }
      const rows = await this.raw
        .find(query, {
          sort: mongoSort(keys),
          limit: limit + 1,
          ...this.session,
          ...(options.signal ? { signal: options.signal } : {}),
        })
        .toArray();
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((raw) => fromMongoDocument<T>(raw)),
        ...(rows.length > limit && last ? { nextCursor: encodeFindCursor(keys, sortTuple(last, keys)) } : {}),
      };
    });
  }

  async updateOne(
    filter: Filter,
    update: UpdateSpec,
    options?: OperationOptions,
  ): Promise<{ matched: boolean }> {
    const where = this.what("updateOne");
    return this.runner.run(where, options, async () => {
      const changes = translateUpdate(update, where);
      const query = translateFilter(filter, this.runner.idMode, where, true);
      // findOneAndUpdate takes a sort on every server version; updateOne only from MongoDB 8.0.
      const before = await this.raw.findOneAndUpdate(query, changes, {
        sort: { _id: 1 },
        projection: { _id: 1 },
        ...this.session,
      });
      return { matched: before !== null };
    });
  }

  async deleteOne(filter: Filter, options?: OperationOptions): Promise<number> {
    const where = this.what("deleteOne");
    return this.runner.run(where, options, async () => {
      const query = translateFilter(filter, this.runner.idMode, where, true);
      return (await this.raw.deleteOne(query, this.session)).deletedCount;
    });
  }

  async deleteMany(filter: Filter, options?: OperationOptions): Promise<number> {
    const where = this.what("deleteMany");
    return this.runner.run(where, options, async () => {
      const query = translateFilter(filter, this.runner.idMode, where, true);
      return (await this.raw.deleteMany(query, this.session)).deletedCount;
    });
  }

  async count(filter?: Filter, options?: OperationOptions): Promise<number> {
    const where = this.what("count");
    return this.runner.run(where, options, async () => {
      const query = translateFilter(filter, this.runner.idMode, where);
      return this.raw.countDocuments(query, {
        ...this.session,
        ...(options?.signal ? { signal: options.signal } : {}),
      });
    });
  }

  async ensureIndex(index: IndexSpec, options?: OperationOptions): Promise<void> {
    const where = this.what("ensureIndex");
    return this.runner.run(where, options, async () => {
      const wanted = translateIndex(index, where);
      // The _id index exists always and is unique.
      if (sameKey(wanted.key, { _id: 1 })) return;
      // Compared here rather than left to the server: emulators accept a reused name silently.
      for (const existing of await this.existingIndexes()) {
        const sameName = existing.name === wanted.name;
        const sameFields = sameKey(existing.key, wanted.key);
        if (sameName && sameFields && (existing.unique === true) === wanted.unique) return;
        if (sameName || sameFields) {
          throw new InfrastructureError(
            "CONFLICT",
            `${where}: index ${String(existing.name)} exists already with a different definition`,
          );
        }
      }
      await this.raw.createIndex(wanted.key, { name: wanted.name, unique: wanted.unique, ...this.session });
    });
  }

  private async existingIndexes(): Promise<Document[]> {
    try {
      return await this.raw.listIndexes(this.session).toArray();
    } catch (error) {
      if ((error as { code?: unknown }).code === 26) return [];
      throw error;
    }
  }
}

class MongoDatabase implements MongoDocumentDatabase {
  private closed = false;
  private readonly runner: Runner;

  constructor(
    readonly client: MongoClient,
    readonly db: Db,
    readonly capabilities: DocumentDatabaseCapabilities,
    private readonly idMode: IdMode,
  ) {
    this.runner = this.makeRunner(undefined, () => false);
  }

  private makeRunner(session: ClientSession | undefined, finished: () => boolean): Runner {
    return {
      idMode: this.idMode,
      session,
      collection: (name) => this.db.collection<RawDocument>(name),
      run: (what, options, work) => {
        if (finished()) return Promise.reject(closedError("transaction"));
        return this.run(what, options, work);
      },
    };
  }

  async run<T>(what: string, options: OperationOptions | undefined, work: () => Promise<T>): Promise<T> {
    if (this.closed) throw closedError(`MongoDB database ${this.db.databaseName}`);
    const signal = options?.signal;
    throwIfAborted(signal, what);
    try {
      return await abortable(work(), signal, what);
    } catch (error) {
      if (signal?.aborted) throw cancelledError(signal, what);
      if (this.closed) throw closedError(`MongoDB database ${this.db.databaseName}`);
      throw mapMongoError(error, what);
    }
  }

  collection<T extends DocumentData = DocumentData>(name: string): DocumentCollection<T> {
    validateCollectionName(name);
    return new MongoCollection<T>(name, this.runner);
  }

  async dropCollection(name: string, options?: OperationOptions): Promise<void> {
    validateCollectionName(name);
    await this.run(`dropCollection ${name}`, options, async () => {
      try {
        await this.db.dropCollection(name);
      } catch (error) {
        // Servers before 7.0 answer NamespaceNotFound for a missing collection.
        if ((error as { code?: unknown }).code !== 26) throw error;
      }
    });
  }

  async transaction<T>(
    work: (db: Pick<DocumentDatabase, "collection">) => Promise<T>,
    options?: OperationOptions,
  ): Promise<T> {
    if (this.closed) throw closedError(`MongoDB database ${this.db.databaseName}`);
    throwIfAborted(options?.signal, "transaction");
    if (!this.capabilities.transactions) {
      throw new InfrastructureError(
        "NOT_SUPPORTED",
        `transaction on MongoDB database ${this.db.databaseName}: the server is standalone; transactions need a replica set or mongos`,
      );
    }
    const session = this.client.startSession();
    let finished = false;
    const runner = this.makeRunner(session, () => finished);
    const handle = {
      collection: <C extends DocumentData = DocumentData>(name: string): DocumentCollection<C> => {
        validateCollectionName(name);
        return new MongoCollection<C>(name, runner);
      },
    };
    try {
      session.startTransaction();
      const result = await work(handle);
      await this.run("transaction commit", options, () => session.commitTransaction());
      return result;
    } catch (error) {
      if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
      throw error;
    } finally {
      finished = true;
      await session.endSession().catch(() => undefined);
    }
  }

  async ping(options?: OperationOptions): Promise<void> {
    await this.run("ping", options, async () => {
      await this.db.command({ ping: 1 }, options?.signal ? { signal: options.signal } : {});
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Whether `hello` describes a deployment with multi-document transactions. */
export function helloSupportsTransactions(hello: Document): boolean {
  return (typeof hello.setName === "string" && hello.setName.length > 0) || hello.msg === "isdbgrid";
}

/**
 * Connects to MongoDB and returns a `DocumentDatabase` over one of its databases. Resolves once the
 * server has answered `hello`; an unreachable server rejects with `UNAVAILABLE`.
 */
export async function createMongoDocumentDatabase(
  options: MongoDocumentDatabaseOptions,
): Promise<MongoDocumentDatabase> {
  if (typeof options.url !== "string" || options.url.length === 0) {
    throw invalid("createMongoDocumentDatabase: url is required");
  }
  if (typeof options.database !== "string" || !DATABASE_NAME.test(options.database)) {
    throw invalid(
      `createMongoDocumentDatabase: database name ${JSON.stringify(options.database)} is not valid`,
    );
  }
  const idMode = options.idMode ?? "string";
  if (idMode !== "string" && idMode !== "objectId") {
    throw invalid(`createMongoDocumentDatabase: idMode must be "string" or "objectId"`);
  }
  const what = `connect to MongoDB database ${options.database}`;
  let client: MongoClient;
  try {
    client = new MongoClient(options.url, {
      ...options.clientOptions,
      ignoreUndefined: true,
      // The driver's default `{}` is looked up by field name, so a field named after an inherited
      // property (`__proto__`, `constructor`, `toString`) holding documents in an array came back
      // as raw BSON buffers. A table without a prototype has no such names.
      fieldsAsRaw: Object.create(null),
    });
  } catch (error) {
    throw mapMongoError(error, what);
  }
  try {
    await client.connect();
    const db = client.db(options.database);
    const transactions =
      options.transactions ?? helloSupportsTransactions(await db.admin().command({ hello: 1 }));
    return new MongoDatabase(client, db, { transactions }, idMode);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw mapMongoError(error, what);
  }
}
