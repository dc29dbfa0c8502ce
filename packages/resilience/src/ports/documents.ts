import type { DocumentCollection, DocumentData, DocumentDatabase } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { CALLER_CODE, callerCode, withSignal } from "../shared.js";

/**
 * A `DocumentDatabase` whose calls (and those of its collections) go through `policy` (or a policy
 * made from these options).
 *
 * Retried: `ping`, `dropCollection`, and on collections `findById`, `find`, `count`, `ensureIndex`
 * and `deleteMany` (doing them twice leaves the same state). Never retried: `insertOne` and
 * `insertMany` (a second attempt stores a second document, or reports `CONFLICT` for the caller's
 * own), `updateOne` (an `increment` would apply twice), `deleteOne` (it would remove the next
 * match) and `transaction`. The collections a transaction's work gets are the adapter's own.
 */
export function withResilienceDocumentDatabase(
  database: DocumentDatabase,
  policy: ResiliencePolicy | ResilienceOptions = {},
): DocumentDatabase {
  const p = policyOf(policy);
  const op = (name: string, idempotent: boolean) => p.operation("documents", name, { idempotent });
  const ops = {
    insertOne: op("insertOne", false),
    insertMany: op("insertMany", false),
    findById: op("findById", true),
    find: op("find", true),
    updateOne: op("updateOne", false),
    deleteOne: op("deleteOne", false),
    deleteMany: op("deleteMany", true),
    count: op("count", true),
    ensureIndex: op("ensureIndex", true),
  };
  const ping = op("ping", true);
  const dropCollection = op("dropCollection", true);
  const transaction = p.operation("documents", "transaction", { idempotent: false, runsCallerCode: true });

  function collection<T extends DocumentData>(inner: DocumentCollection<T>): DocumentCollection<T> {
    return {
      get name() {
        return inner.name;
      },
      insertOne: (document, options) =>
        p.run(ops.insertOne, options?.signal, (signal) =>
          inner.insertOne(document, withSignal(options, signal)),
        ),
      insertMany: (documents, options) =>
        p.run(ops.insertMany, options?.signal, (signal) =>
          inner.insertMany(documents, withSignal(options, signal)),
        ),
      findById: (id, options) =>
        p.run(ops.findById, options?.signal, (signal) => inner.findById(id, withSignal(options, signal))),
      find: (filter, options) =>
        p.run(ops.find, options?.signal, (signal) => inner.find(filter, withSignal(options, signal))),
      updateOne: (filter, update, options) =>
        p.run(ops.updateOne, options?.signal, (signal) =>
          inner.updateOne(filter, update, withSignal(options, signal)),
        ),
      deleteOne: (filter, options) =>
        p.run(ops.deleteOne, options?.signal, (signal) =>
          inner.deleteOne(filter, withSignal(options, signal)),
        ),
      deleteMany: (filter, options) =>
        p.run(ops.deleteMany, options?.signal, (signal) =>
          inner.deleteMany(filter, withSignal(options, signal)),
        ),
      count: (filter, options) =>
        p.run(ops.count, options?.signal, (signal) => inner.count(filter, withSignal(options, signal))),
      ensureIndex: (index, options) =>
        p.run(ops.ensureIndex, options?.signal, (signal) =>
          inner.ensureIndex(index, withSignal(options, signal)),
        ),
    };
  }

  return {
    get capabilities() {
      return database.capabilities;
    },
    collection: <T extends DocumentData = DocumentData>(name: string) =>
      collection(database.collection<T>(name)),
    dropCollection: (name, options) =>
      p.run(dropCollection, options?.signal, (signal) =>
        database.dropCollection(name, withSignal(options, signal)),
      ),
    transaction: (work, options) =>
      p.run(
        transaction,
        options?.signal,
        (signal) =>
          database.transaction(
            typeof work === "function" ? callerCode(work) : work,
            withSignal(options, signal),
          ),
        CALLER_CODE,
      ),
    ping: (options) => p.run(ping, options?.signal, (signal) => database.ping(withSignal(options, signal))),
    close: () => database.close(),
    [Symbol.asyncDispose]: () => database.close(),
  };
}
