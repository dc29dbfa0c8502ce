import { createMemoryDocumentDatabase } from "@proj/adapter-memory";
import { documentDatabaseContract } from "../src/index.js";

documentDatabaseContract("memory", {
  create: async () => createMemoryDocumentDatabase(),
  transactions: true,
});
