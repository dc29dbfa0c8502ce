import type { DocumentDatabase } from "@proj/ports";
import { describe } from "vitest";
import { type ContractHarness, useFreshAdapter } from "../harness.js";
import { crudTests } from "./crud.js";
import { databaseTests } from "./database.js";
import { indexTests } from "./indexes.js";
import { injectionTests } from "./injection.js";
import { limitTests } from "./limits.js";
import { pagingTests } from "./paging.js";
import { queryTests } from "./query.js";
import { transactionTests } from "./transactions.js";

export { INJECTION_VALUES } from "./injection.js";

/**
 * The harness gives a database whose collections are fresh (its own database or collection-name
 * prefix); `destroy` drops them and closes the adapter.
 */
export interface DocumentDatabaseHarness extends ContractHarness<DocumentDatabase> {
  /**
   * Gaps of the server under test (not of the adapter), each naming why. The tests that need the
   * feature are skipped, visibly, rather than passed.
   */
  serverGaps?: DocumentServerGaps;
  /**
   * Whether the backend under test runs transactions, as the harness knows it independently of the
   * adapter (the server's setup). When given, the adapter's declared `capabilities.transactions`
   * must equal it, so an adapter that under-declares cannot skip the transaction tests.
   */
  transactions?: boolean;
}

/** Each names why the server under test lacks the behaviour. */
export interface DocumentServerGaps {
  /** The server cannot drop a collection (a wire-protocol emulator without the `drop` command). */
  dropCollection?: string;
  /** The server sorts a missing field apart from null, where MongoDB sorts it as null. */
  missingSortsAsNull?: string;
  /** A conflict in `insertMany` drops the whole batch instead of keeping the documents before it. */
  insertManyKeepsPrefix?: string;
  /** The server lets an update grow a document past 16 MiB (MongoDB refuses it; the port does too). */
  updateSizeLimit?: string;
}

/** Registers the `DocumentDatabase` contract (packages/ports/src/documents.ts) against an adapter. */
export function documentDatabaseContract(name: string, harness: DocumentDatabaseHarness): void {
  describe(`${name}: DocumentDatabase contract`, () => {
    const db = useFreshAdapter(harness);
    crudTests(db, harness.serverGaps ?? {});
    queryTests(db);
    pagingTests(db, harness.serverGaps ?? {});
    indexTests(db, harness.serverGaps ?? {});
    injectionTests(db);
    limitTests(db, harness.serverGaps ?? {});
    databaseTests(db, harness.serverGaps ?? {});
    transactionTests(db, harness.transactions);
  });
}
