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
  outcomeUnknownError,
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
import { mapMongoError, requestMayHaveRun } from "./map-mongodb-error.js";
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
   * Deadline of every call that passes no `timeoutMs` of its own, in milliseconds: it covers server
   * selection, the pool wait, connecting, sending and reading the answer. Default 10 000; `Infinity`
   * turns it off.
   */
  timeoutMs?: number;
  /** How long a call (and the factory) waits for a reachable server. Default 5 000. */
  serverSelectionTimeoutMs?: number;
  /** Time limit for opening one connection (TCP, TLS and handshake). Default 5 000. */
  connectTimeoutMs?: number;
  /**
   * A connection that receives nothing for this long while it waits for an answer is destroyed.
   * Default: `timeoutMs` (0 when that is `Infinity`: never).
   */
  socketTimeoutMs?: number;
  /**
   * Passed to `MongoClient` (pool size, TLS...); its timeout settings win over the options above.
   * `ignoreUndefined` is always on, `fieldsAsRaw` always empty (documents are decoded whole), and
   * `retryWrites` off unless set here (see README, "Failure behaviour").
   */
  clientOptions?: MongoClientOptions;
}

/** The port's options plus a deadline of this call's own. */
export interface MongoOperationOptions extends OperationOptions {
  /** Deadline of this call in milliseconds, replacing the adapter's `timeoutMs`; `Infinity` for none. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Calls that only read: they never change the server, so a lost answer leaves nothing unknown. */
const READ_OPERATIONS: ReadonlySet<string> = new Set(["findById", "find", "count", "ping"]);

/** The deadline a call runs under: its own `timeoutMs`, else the adapter's. */
function deadlineOf(options: OperationOptions | undefined, fallback: number, what: string): number {
  const own = (options as MongoOperationOptions | undefined)?.timeoutMs;
  if (own === undefined) return fallback;
  return validTimeout(own, `${what}: timeoutMs`);
}

function validTimeout(value: number, name: string): number {
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value > 0)) return value;
  throw invalid(`${name} must be a positive integer number of milliseconds, or Infinity`);
}

/** A marker for the adapter's own deadline, so it is told apart from the driver's errors. */
class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`deadline of ${ms} ms exceeded`);
    this.name = "DeadlineExceeded";
  }
}

/**
 * Settles like `promise`, or rejects with `DeadlineExceeded` after `ms`, whichever is first: the
 * driver has no working per-operation deadline, and a silent connection never answers. The
 * abandoned promise's late rejection is swallowed; `socketTimeoutMs` destroys its connection.
 */
function withinDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      promise.catch(() => undefined);
      reject(new DeadlineExceeded(ms));
    }, ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
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
    private readonly timeoutMs: number,
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
        // Inside a transaction nothing is applied before COMMIT, whose own outcome is what may be unknown.
        return this.run(what, options, work, session !== undefined);
      },
    };
  }

  /**
   * Runs one call under its deadline and signal, and maps how it ended. A write outside a transaction whose
   * request may have reached the server and whose answer never came is reported with outcome
   * unknown, never as retryable.
   */
  async run<T>(
    what: string,
    options: OperationOptions | undefined,
    work: () => Promise<T>,
    inTransaction = false,
  ): Promise<T> {
    const mayChange = !inTransaction && !READ_OPERATIONS.has(what.split(" ", 1)[0] as string);
    if (this.closed) throw closedError(`MongoDB database ${this.db.databaseName}`);
    const signal = options?.signal;
    throwIfAborted(signal, what);
    const timeoutMs = deadlineOf(options, this.timeoutMs, what);
    try {
      return await withinDeadline(abortable(work(), signal, what), timeoutMs);
    } catch (error) {
      if (this.closed) throw closedError(`MongoDB database ${this.db.databaseName}`);
      if (signal?.aborted) {
        const cancelled = cancelledError(signal, what);
        if (!mayChange) throw cancelled;
        throw outcomeUnknownError(
          cancelled.code as "TIMEOUT" | "CANCELLED",
          `${cancelled.message}; the write may have been applied`,
          {
            cause: signal.reason,
          },
        );
      }
      if (error instanceof DeadlineExceeded) {
        const message = `${what} did not finish within ${error.ms} ms`;
        if (mayChange)
          throw outcomeUnknownError("TIMEOUT", `${message}; the write may have been applied`, {
            cause: error,
          });
        throw new InfrastructureError("TIMEOUT", message, { cause: error, details: { timeoutMs: error.ms } });
      }
      const mapped = mapMongoError(error, what);
      if (
        mayChange &&
        (mapped.code === "TIMEOUT" || mapped.code === "UNAVAILABLE") &&
        requestMayHaveRun(error)
      ) {
        throw outcomeUnknownError(mapped.code, `${mapped.message}; the write may have been applied`, {
          cause: error,
          details: mapped.details,
        });
      }
      throw mapped;
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
      // On a silent connection the abort would wait as long as the socket lives; the server drops an
      // abandoned transaction itself.
      if (session.inTransaction()) {
        await withinDeadline(session.abortTransaction(), this.timeoutMs).catch(() => undefined);
      }
      throw error;
    } finally {
      finished = true;
      await withinDeadline(session.endSession(), this.timeoutMs).catch(() => undefined);
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
  const timeoutMs = validTimeout(
    options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    "createMongoDocumentDatabase: timeoutMs",
  );
  const serverSelectionTimeoutMS = validTimeout(
    options.serverSelectionTimeoutMs ?? DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    "createMongoDocumentDatabase: serverSelectionTimeoutMs",
  );
  const connectTimeoutMS = validTimeout(
    options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    "createMongoDocumentDatabase: connectTimeoutMs",
  );
  const socketTimeoutMS =
    options.socketTimeoutMs === undefined
      ? timeoutMs
      : validTimeout(options.socketTimeoutMs, "createMongoDocumentDatabase: socketTimeoutMs");
  const what = `connect to MongoDB database ${options.database}`;
  let client: MongoClient;
  try {
    client = new MongoClient(options.url, {
      // The driver waits 30 s for a server and forever for a silent socket by default.
      serverSelectionTimeoutMS: finiteOrZero(serverSelectionTimeoutMS),
      connectTimeoutMS: finiteOrZero(connectTimeoutMS),
      socketTimeoutMS: finiteOrZero(socketTimeoutMS),
      // A retried write is applied once only where the server keeps transaction records; an
      // emulator or a compatible API may not (jongodb applies it twice), and the adapter cannot tell.
      retryWrites: false,
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
    return await withinDeadline(
      (async () => {
        await client.connect();
        const db = client.db(options.database);
        const transactions =
          options.transactions ?? helloSupportsTransactions(await db.admin().command({ hello: 1 }));
        return new MongoDatabase(client, db, { transactions }, idMode, timeoutMs);
      })(),
      timeoutMs,
    );
  } catch (error) {
    await client.close().catch(() => undefined);
    if (error instanceof DeadlineExceeded) {
      throw new InfrastructureError("TIMEOUT", `${what} did not finish within ${error.ms} ms`, {
        cause: error,
      });
    }
    throw mapMongoError(error, what);
  }
}

/** The driver spells "no limit" as 0. */
function finiteOrZero(ms: number): number {
  return ms === Number.POSITIVE_INFINITY ? 0 : ms;
}
