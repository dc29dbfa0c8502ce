import { createMemoryJobQueue } from "@proj/adapter-memory";
import { jobQueueContract } from "../src/index.js";

jobQueueContract("memory", { create: async () => createMemoryJobQueue(), resolutionMs: 100 });
