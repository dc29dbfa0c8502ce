import type { DocumentCollection, DocumentData, DocumentDatabase } from "@proj/ports";
import type { Chaos, ChaosOptions, Site } from "../chaos.js";
import { chaosOf } from "../chaos.js";
import { intercept } from "../intercept.js";

type CollectionSites = Record<
  | "insertOne"
  | "insertMany"
  | "findById"
  | "find"
  | "updateOne"
  | "deleteOne"
  | "deleteMany"
  | "count"
  | "ensureIndex",
  Site
>;

function collection<T extends DocumentData>(
  inner: DocumentCollection<T>,
  sites: CollectionSites,
): DocumentCollection<T> {
  const name = () => inner.name;
  return {
    get name() {
      return inner.name;
    },
    insertOne: (document, options) =>
      intercept(sites.insertOne, name, options?.signal, () => inner.insertOne(document, options)),
    insertMany: (documents, options) =>
      intercept(sites.insertMany, name, options?.signal, () => inner.insertMany(documents, options)),
    findById: (id, options) =>
      intercept(sites.findById, name, options?.signal, () => inner.findById(id, options)),
    find: (filter, options) =>
      intercept(sites.find, name, options?.signal, () => inner.find(filter, options)),
    updateOne: (filter, update, options) =>
      intercept(sites.updateOne, name, options?.signal, () => inner.updateOne(filter, update, options)),
    deleteOne: (filter, options) =>
      intercept(sites.deleteOne, name, options?.signal, () => inner.deleteOne(filter, options)),
    deleteMany: (filter, options) =>
      intercept(sites.deleteMany, name, options?.signal, () => inner.deleteMany(filter, options)),
    count: (filter, options) =>
      intercept(sites.count, name, options?.signal, () => inner.count(filter, options)),
    ensureIndex: (index, options) =>
      intercept(sites.ensureIndex, name, options?.signal, () => inner.ensureIndex(index, options)),
  };
}

/**
 * A `DocumentDatabase` with faults injected by `chaos` (or a chaos made from these options), in the
 * collections of its transactions too. Keys: the collection's name; `ping` and `transaction` have
 * none.
 */
export function withChaosDocumentDatabase(
  database: DocumentDatabase,
  chaos: Chaos | ChaosOptions,
): DocumentDatabase {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("documents", operation);
  const sites: CollectionSites = {
    insertOne: site("insertOne"),
    insertMany: site("insertMany"),
    findById: site("findById"),
    find: site("find"),
    updateOne: site("updateOne"),
    deleteOne: site("deleteOne"),
    deleteMany: site("deleteMany"),
    count: site("count"),
    ensureIndex: site("ensureIndex"),
  };
  const ping = site("ping");
  const dropCollection = site("dropCollection");
  const transaction = site("transaction");
  return {
    get capabilities() {
      return database.capabilities;
    },
    collection: <T extends DocumentData = DocumentData>(name: string) =>
      collection(database.collection<T>(name), sites),
    dropCollection: (name, options) =>
      intercept(
        dropCollection,
        () => name,
        options?.signal,
        () => database.dropCollection(name, options),
      ),
    transaction: (work, options) =>
      intercept(transaction, undefined, options?.signal, () =>
        database.transaction(
          typeof work === "function"
            ? (tx) =>
                work({
                  collection: <T extends DocumentData = DocumentData>(name: string) =>
                    collection(tx.collection<T>(name), sites),
                })
            : work,
          options,
        ),
      ),
    ping: (options) => intercept(ping, undefined, options?.signal, () => database.ping(options)),
    close: () => database.close(),
    [Symbol.asyncDispose]: () => database.close(),
  };
}
