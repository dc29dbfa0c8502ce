import { promises as fs } from "node:fs";
import { join } from "node:path";
import { expectErrorCode, sleep } from "@proj/contract-tests";
import { isInfrastructureError } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalObjectStorage, type LocalObjectStorage } from "../src/index.js";
import { canMakeImmutable, canMountTmpfs, mountSmallDisk, newTempFolder, whileImmutable } from "./helpers.js";

const HOUR = 3_600_000;
let root: string;
let storage: LocalObjectStorage;

beforeEach(async () => {
  root = await newTempFolder();
  storage = createLocalObjectStorage({ root });
});

afterEach(async () => {
  await storage.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function namesIn(folder: string): Promise<string[]> {
  return (await fs.readdir(folder)).sort();
}

async function keys(): Promise<string[]> {
  const found: string[] = [];
  for await (const summary of storage.list()) found.push(summary.key);
  return found;
}

async function age(path: string, ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  await fs.utimes(path, when, when);
}

describe("local object storage on disk", () => {
  it("stores an object as a body file and a sidecar, and the replaced body is removed", async () => {
    await storage.put("docs/report.txt", "first", { metadata: { author: "ada" } });
    const first = await namesIn(join(root, "docs"));
    expect(first).toHaveLength(2);
    expect(first).toContain("report.txt~m");
    expect(first.find((name) => name.startsWith("report.txt~d-"))).toBeDefined();
    const sidecar = JSON.parse(await fs.readFile(join(root, "docs", "report.txt~m"), "utf8"));
    expect(sidecar.metadata).toEqual({ author: "ada" });

    await storage.put("docs/report.txt", "second");
    const second = await namesIn(join(root, "docs"));
    expect(second).toHaveLength(2);
    expect(second).not.toEqual(first);
  });

  it("escapes % and ~ in stored names, so a key can never look like a sidecar", async () => {
    await storage.put("50%~off/a~m", "x");
    expect(await namesIn(root)).toEqual(["50%25%7Eoff"]);
    expect(await namesIn(join(root, "50%25%7Eoff"))).toContain("a%7Em~m");
    expect(await keys()).toEqual(["50%~off/a~m"]);
  });

  it("lists neither sidecars, bodies, temporary files nor foreign files as objects", async () => {
    await storage.put("kept", "x");
    await fs.writeFile(join(root, "~t-0123456789abcdef"), "a temporary file left by a crash");
    await fs.writeFile(join(root, "ghost~d-0123456789abcdef"), "a body no sidecar points to");
    await fs.writeFile(join(root, "README"), "a file somebody copied in");
    expect(await keys()).toEqual(["kept"]);
    expect(await storage.exists("README")).toBe(false);
  });

  it("leaves no file behind when a put fails midway", async () => {
    async function* broken() {
      yield new Uint8Array(1024);
      throw new Error("source broke");
    }
    await expect(storage.put("folder/broken", broken())).rejects.toSatisfy(isInfrastructureError);
    expect(await namesIn(join(root, "folder"))).toEqual([]);
  });

  it("sweeps stale temporary files and unreferenced bodies, keeping live objects", async () => {
    await storage.put("live", "live body");
    const liveBody = (await namesIn(root)).find((name) => name.startsWith("live~d-")) as string;
    await fs.mkdir(join(root, "sub"));
    const strays = [
      join(root, "~t-00000000000000aa"),
      join(root, "live~d-00000000000000bb"),
      join(root, "sub", "gone~d-00000000000000cc"),
    ];
    for (const stray of strays) await fs.writeFile(stray, "stray");
    const fresh = join(root, "~t-00000000000000dd");
    await fs.writeFile(fresh, "a write in progress");
    for (const path of [...strays, join(root, liveBody), join(root, "live~m")]) await age(path, 2 * HOUR);

    expect(await storage.sweep({ olderThanMs: HOUR })).toBe(3);
    expect(await namesIn(root)).toEqual([liveBody, "live~m", "sub", "~t-00000000000000dd"].sort());
    expect(Buffer.from((await storage.getBytes("live")).bytes).toString()).toBe("live body");
  });

  it("serves readers a whole body that matches its info while the object is replaced", {
    timeout: 60_000,
  }, async () => {
    const bodies = [Buffer.alloc(512 * 1024, 1), Buffer.alloc(300 * 1024, 2)];
    await storage.put("hot", bodies[0] as Buffer);
    const contentOfEtag = new Map<string, number>();
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const { info, bytes } = await storage.getBytes("hot");
        const which = bodies.findIndex((body) => body.equals(bytes));
        expect(which).not.toBe(-1);
        expect(info.size).toBe(bytes.byteLength);
        expect(contentOfEtag.get(info.etag) ?? which).toBe(which);
        contentOfEtag.set(info.etag, which);
        reads++;
        await sleep(0);
      }
    })();
    try {
      for (let round = 0; round < 30; round++) await storage.put("hot", bodies[round % 2] as Buffer);
    } finally {
      writing = false;
      await reader;
    }
    expect(reads).toBeGreaterThan(0);
  });

  it("lets exactly one of several concurrent conditional puts win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => storage.put("once", `writer ${i}`, { ifNoneMatch: "*" })),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected") expect(isInfrastructureError(result.reason, "CONFLICT")).toBe(true);
    }
    expect(await namesIn(root)).toHaveLength(2);
  });

  it("refuses keys that lead through a symlink to outside the folder, touching nothing there", async () => {
    const outside = await newTempFolder();
    try {
      await fs.writeFile(join(outside, "secret~m"), JSON.stringify({ body: "x", size: 1 }));
      await fs.symlink(outside, join(root, "escape"));
      await expectErrorCode(storage.put("escape/new", "x"), "INVALID_ARGUMENT");
      await expectErrorCode(storage.head("escape/secret"), "INVALID_ARGUMENT");
      await expectErrorCode(storage.delete("escape/secret"), "INVALID_ARGUMENT");
      expect(await keys()).toEqual([]);
      expect(await namesIn(outside)).toEqual(["secret~m"]);
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });

  it("does not follow a sidecar that is a symlink", async () => {
    const outside = await newTempFolder();
    try {
      await fs.writeFile(join(outside, "planted"), JSON.stringify({ body: "x", size: 1, metadata: {} }));
      await fs.symlink(join(outside, "planted"), join(root, "planted~m"));
      await expectErrorCode(storage.head("planted"), "INVALID_ARGUMENT");
      expect(await keys()).toEqual([]);
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });

  it("exposes its folder as the escape hatch", () => {
    expect(storage.root).toBe(root);
  });

  it.skipIf(!canMakeImmutable)("maps a refused write to PERMISSION_DENIED", async () => {
    await fs.mkdir(join(root, "locked"));
    await whileImmutable(join(root, "locked"), async () => {
      await expectErrorCode(storage.put("locked/new", "x"), "PERMISSION_DENIED");
    });
    expect(await keys()).toEqual([]);
  });

  it.skipIf(!canMountTmpfs)(
    "maps a full disk to RESOURCE_EXHAUSTED, keeping the previous object and no stray body",
    async () => {
      const disk = await mountSmallDisk();
      const small = createLocalObjectStorage({ root: disk.path });
      try {
        await small.put("data/object", "previous");
        await expectErrorCode(
          small.put("data/object", new Uint8Array(4 * 1024 * 1024)),
          "RESOURCE_EXHAUSTED",
        );
        expect(Buffer.from((await small.getBytes("data/object")).bytes).toString()).toBe("previous");
        expect(await namesIn(join(disk.path, "data"))).toHaveLength(2);
      } finally {
        await small.close();
        await disk.release();
      }
    },
  );
});
