import { createMemoryObjectStorage } from "@proj/adapter-memory";
import { objectStorageContract } from "../src/index.js";

objectStorageContract("memory", {
  create: async () => createMemoryObjectStorage(),
  capabilities: { signedUrls: false, conditionalPut: true, rangeReads: true },
});
