import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localFileManagerContract, objectStorageContract } from "@proj/contract-tests";
import { createLocalFileManager, createLocalObjectStorage } from "../src/index.js";
import { canMountTmpfs, mountSmallDisk } from "./helpers.js";

const fresh = () => fs.mkdtemp(join(tmpdir(), "adapter-local-fs-"));

objectStorageContract("local-fs", {
  create: async () => createLocalObjectStorage({ root: await fresh() }),
  destroy: async (storage) => {
    await storage.close();
    await fs.rm((storage as ReturnType<typeof createLocalObjectStorage>).root, {
      recursive: true,
      force: true,
    });
  },
  capabilities: { signedUrls: false, conditionalPut: true, rangeReads: true },
});

localFileManagerContract("local-fs", {
  create: async () => createLocalFileManager({ root: await fresh() }),
  destroy: async (manager) => {
    await manager.close();
    await fs.rm(manager.root, { recursive: true, force: true });
  },
  ...(canMountTmpfs
    ? {
        smallDisk: async () => {
          const disk = await mountSmallDisk();
          return { manager: createLocalFileManager({ root: disk.path }), release: disk.release };
        },
      }
    : {}),
});
