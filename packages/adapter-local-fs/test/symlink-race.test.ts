import { promises as fs } from "node:fs";
import { join } from "node:path";
import { isInfrastructureError } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalFileManager, createLocalObjectStorage } from "../src/index.js";
import { newTempFolder } from "./helpers.js";

/**
 * While many calls run, one loop keeps swapping the folder `sw` for a symlink to a folder outside
 * the root and back. Every call that reads outside content, or creates or removes a file outside,
 * is an escape. Bounded so the test runs in a few seconds; `LOCAL_FS_RACE_CALLS` raises the count
 * for a longer measurement.
 */
const CALLS = Number(process.env.LOCAL_FS_RACE_CALLS ?? 1200);
const IN_FLIGHT = 12;
const OUTSIDE_MARK = "OUTSIDE";
const OUTSIDE_VERSION = "00000000000000aa";

let root: string;
let outside: string;

beforeEach(async () => {
  root = await newTempFolder();
  outside = await newTempFolder();
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

/**
 * Swaps `<root>/sw` for a symlink to `outside` and back until `stop()`; returns how many swaps. A
 * write may recreate `sw` as a fresh folder while the real one is parked: that folder is inside
 * the root and simply moved aside.
 */
function startSwapping(): { stop: () => Promise<number> } {
  let running = true;
  let swaps = 0;
  let strays = 0;
  const folder = join(root, "sw");
  const parked = join(root, "sw-parked");
  const moveAside = () => fs.rename(folder, join(root, `stray-${strays++}`));
  async function place(make: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        return await make();
      } catch {
        await moveAside();
      }
    }
  }
  const loop = (async () => {
    while (running) {
      await fs.rename(folder, parked);
      await place(() => fs.symlink(outside, folder));
      swaps++;
      await new Promise((resolve) => setImmediate(resolve));
      await fs.unlink(folder);
      await place(() => fs.rename(parked, folder));
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return swaps;
    },
  };
}

/** Runs `call(0..count-1)` with `IN_FLIGHT` at a time; returns the failures that are not taxonomy errors. */
async function runCalls(count: number, call: (index: number) => Promise<unknown>): Promise<unknown[]> {
  let next = 0;
  const foreign: unknown[] = [];
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const index = next++;
        try {
          await call(index);
        } catch (error) {
          if (!isInfrastructureError(error)) foreign.push(error);
        }
      }
    }),
  );
  return foreign;
}

/** Every file below `folder`, relative to it. */
async function filesBelow(folder: string): Promise<string[]> {
  const entries = await fs.readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1))
    .sort();
}

function changes(before: string[], after: string[]): { written: number; deleted: number } {
  return {
    written: after.filter((name) => !before.includes(name)).length,
    deleted: before.filter((name) => !after.includes(name)).length,
  };
}

function report(
  what: string,
  swaps: number,
  succeeded: number,
  reads: number,
  written: number,
  deleted: number,
) {
  const escapes = reads + written + deleted;
  console.log(
    `${what} race: ${CALLS} calls (${succeeded} succeeded), ${swaps} swaps, escapes ${escapes} ` +
      `(outside reads ${reads}, files created ${written}, files deleted ${deleted}), rate ${(escapes / CALLS).toFixed(4)}`,
  );
}

describe("a folder swapped for a symlink to outside while calls run", () => {
  it("lets no file manager read, write, delete or sweep escape the root", { timeout: 120_000 }, async () => {
    const victims = CALLS / 4;
    const stale = new Date(Date.now() - 3_600_000);
    for (const [folder, content] of [
      [join(root, "sw"), "inside"],
      [outside, OUTSIDE_MARK],
    ] as const) {
      await fs.mkdir(join(folder, "old"), { recursive: true });
      await fs.writeFile(join(folder, "secret.txt"), content);
      for (let i = 0; i < victims; i++) {
        await fs.writeFile(join(folder, `d-${i}.txt`), content);
        await fs.writeFile(join(folder, "old", `o-${i}.txt`), content);
        await fs.utimes(join(folder, "old", `o-${i}.txt`), stale, stale);
      }
    }
    const before = await filesBelow(outside);
    const manager = createLocalFileManager({ root });
    let outsideReads = 0;
    let succeeded = 0;
    const swapper = startSwapping();
    const foreign = await runCalls(CALLS, async (index) => {
      const i = Math.floor(index / 4);
      if (index % 4 === 0) await manager.write(`sw/w-${i}.txt`, "written");
      else if (index % 4 === 1) {
        if (Buffer.from(await manager.read("sw/secret.txt")).toString() === OUTSIDE_MARK) outsideReads++;
      } else if (index % 4 === 2) await manager.delete(`sw/d-${i}.txt`);
      else await manager.sweep({ path: "sw/old", olderThanMs: 60_000 });
      succeeded++;
    });
    const swaps = await swapper.stop();
    await manager.close();
    const { written, deleted } = changes(before, await filesBelow(outside));
    report("file manager", swaps, succeeded, outsideReads, written, deleted);
    expect(swaps).toBeGreaterThan(10);
    expect(succeeded).toBeGreaterThan(CALLS / 10);
    expect(foreign).toEqual([]);
    expect({ outsideReads, written, deleted }).toEqual({ outsideReads: 0, written: 0, deleted: 0 });
  });

  it("lets no object storage put, get or delete escape the root", { timeout: 120_000 }, async () => {
    const victims = CALLS / 3;
    const storage = createLocalObjectStorage({ root });
    // Objects written the way a put writes them, inside (`sw`) and in the planted folder outside.
    const plant = async (folder: string, name: string, content: string) => {
      const sidecar = {
        body: OUTSIDE_VERSION,
        size: content.length,
        lastModified: 0,
        contentType: "x",
        metadata: {},
      };
      await fs.writeFile(join(folder, `${name}~m`), JSON.stringify(sidecar));
      await fs.writeFile(join(folder, `${name}~d-${OUTSIDE_VERSION}`), content);
    };
    await fs.mkdir(join(root, "sw"));
    for (const folder of [join(root, "sw"), outside]) {
      const content = folder === outside ? OUTSIDE_MARK : "inside";
      await plant(folder, "secret", content);
      for (let i = 0; i < victims; i++) await plant(folder, `v-${i}`, content);
    }
    const before = await filesBelow(outside);
    let outsideReads = 0;
    let succeeded = 0;
    const swapper = startSwapping();
    const foreign = await runCalls(CALLS, async (index) => {
      const i = Math.floor(index / 3);
      if (index % 3 === 0) await storage.put(`sw/p-${i}`, "written");
      else if (index % 3 === 1) {
        if (Buffer.from((await storage.getBytes("sw/secret")).bytes).toString() === OUTSIDE_MARK)
          outsideReads++;
      } else await storage.delete(`sw/v-${i}`);
      succeeded++;
    });
    const swaps = await swapper.stop();
    await storage.close();
    const { written, deleted } = changes(before, await filesBelow(outside));
    report("object storage", swaps, succeeded, outsideReads, written, deleted);
    expect(swaps).toBeGreaterThan(10);
    expect(succeeded).toBeGreaterThan(CALLS / 10);
    expect(foreign).toEqual([]);
    expect({ outsideReads, written, deleted }).toEqual({ outsideReads: 0, written: 0, deleted: 0 });
  });
});

describe("a file swapped for a symlink to an outside file while calls run", () => {
  it("lets no file manager read, write or delete reach the outside file", { timeout: 120_000 }, async () => {
    const file = join(root, "swapped.txt");
    const parked = join(root, "parked.txt");
    const link = join(root, "link.txt");
    const target = join(outside, "target.txt");
    await fs.writeFile(file, "inside");
    await fs.writeFile(target, OUTSIDE_MARK);
    const before = await filesBelow(outside);
    let running = true;
    let swaps = 0;
    const swapper = (async () => {
      while (running) {
        // A write or delete may have replaced or removed the file meanwhile: start from a real file.
        await fs.rm(parked, { force: true });
        await fs.rename(file, parked).catch(() => fs.writeFile(parked, "inside"));
        await fs.rm(link, { force: true });
        await fs.symlink(target, link);
        await fs.rename(link, file);
        swaps++;
        await new Promise((resolve) => setImmediate(resolve));
        await fs.rename(parked, file);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const manager = createLocalFileManager({ root });
    let outsideReads = 0;
    let succeeded = 0;
    const foreign = await runCalls(CALLS, async (index) => {
      if (index % 3 === 0) await manager.write("swapped.txt", "written");
      else if (index % 3 === 1) {
        if (Buffer.from(await manager.read("swapped.txt")).toString() === OUTSIDE_MARK) outsideReads++;
      } else await manager.delete("swapped.txt");
      succeeded++;
    });
    running = false;
    await swapper;
    await manager.close();
    const { written, deleted } = changes(before, await filesBelow(outside));
    const overwritten = (await fs.readFile(target, "utf8")) === OUTSIDE_MARK ? 0 : 1;
    report("swapped file", swaps, succeeded, outsideReads, written + overwritten, deleted);
    expect(swaps).toBeGreaterThan(10);
    expect(succeeded).toBeGreaterThan(CALLS / 10);
    expect(foreign).toEqual([]);
    expect({ outsideReads, written, deleted, overwritten }).toEqual({
      outsideReads: 0,
      written: 0,
      deleted: 0,
      overwritten: 0,
    });
  });
});
