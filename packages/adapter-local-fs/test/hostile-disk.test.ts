import { promises as fs } from "node:fs";
import { basename, join } from "node:path";
import { expectErrorCode } from "@proj/contract-tests";
import type { LocalFileManager } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalFileManager, createLocalObjectStorage, type LocalObjectStorage } from "../src/index.js";
import { newTempFolder } from "./helpers.js";

/** What is on disk is input too: tampered, planted or swapped files must not lead outside the root. */

const HOUR = 3_600_000;
const VERSION = "0123456789abcdef";
let root: string;
let outside: string;

beforeEach(async () => {
  root = await newTempFolder();
  outside = await newTempFolder();
  await fs.writeFile(join(outside, "secret"), "outside the root");
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

async function namesIn(folder: string): Promise<string[]> {
  return (await fs.readdir(folder)).sort();
}

async function age(path: string, ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  await fs.lutimes(path, when, when);
}

async function rejection(action: Promise<unknown> | (() => Promise<unknown>)): Promise<Error> {
  try {
    await (typeof action === "function" ? action() : action);
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

function sidecarText(body: string, size = 1): string {
  return JSON.stringify({ body, size, lastModified: 0, contentType: "text/plain", metadata: {} });
}

describe("local object storage with hostile files on disk", () => {
  let storage: LocalObjectStorage;
  const damagedKeys: string[] = [];

  beforeEach(() => {
    damagedKeys.length = 0;
    storage = createLocalObjectStorage({ root, onDamagedObject: (key) => damagedKeys.push(key) });
  });

  afterEach(async () => {
    await storage.close();
  });

  it("never reads, copies or removes a file outside the root that a tampered sidecar names", async () => {
    // The body path the adapter would build from this climbs out of the root to `<outside>/secret`.
    const tampered = sidecarText(`/../../${basename(outside)}/secret`, 16);
    await storage.put("doc", "inside");
    await fs.writeFile(join(root, "doc~m"), tampered);

    for (const action of [
      () => storage.getBytes("doc"),
      () => storage.get("doc"),
      () => storage.head("doc"),
      () => storage.copy("doc", "copied"),
    ]) {
      const error = await rejection(action);
      expect((error as { code?: string }).code).toBe("INTERNAL");
      expect(error.message).not.toContain(root);
      expect(error.message).not.toContain(outside);
    }
    expect(await storage.exists("copied")).toBe(false);

    await storage.put("doc", "replaces the tampered sidecar");
    await fs.writeFile(join(root, "doc~m"), tampered);
    await storage.delete("doc");
    expect(await storage.exists("doc")).toBe(false);
    expect(await fs.readFile(join(outside, "secret"), "utf8")).toBe("outside the root");
  });

  it("reports a damaged sidecar as INTERNAL without the absolute path", async () => {
    await storage.put("folder/broken", "x");
    await fs.writeFile(join(root, "folder", "broken~m"), "{ not json");
    const error = await rejection(storage.head("folder/broken"));
    expect(error).toMatchObject({ code: "INTERNAL", details: { key: "folder/broken" } });
    expect(error.message).toContain('"folder/broken"');
    expect(error.message).not.toContain(root);
  });

  it("skips a damaged sidecar in list and names its key to onDamagedObject", async () => {
    for (const key of ["a", "b", "c"]) await storage.put(key, key);
    await fs.writeFile(join(root, "b~m"), JSON.stringify({ body: 42 }));
    const keys: string[] = [];
    for await (const summary of storage.list()) keys.push(summary.key);
    expect(keys).toEqual(["a", "c"]);
    expect(damagedKeys).toEqual(["b"]);
    // Still an object: delete removes it, and a sweep may then reclaim its body.
    await storage.delete("b");
    expect(await namesIn(root)).toHaveLength(5);
  });

  it("refuses a NUL in a listPage prefix with INVALID_ARGUMENT", async () => {
    await expectErrorCode(storage.listPage({ prefix: "a\u0000/" }), "INVALID_ARGUMENT");
    await expectErrorCode(storage.listPage({ prefix: "a\u0000" }), "INVALID_ARGUMENT");
  });

  it("lists no name that a caller's key could not address", async () => {
    await storage.put("real", "x");
    // Stored names are canonical: `%` is always written `%25`, so "a%41" is no key's name.
    for (const name of ["a%41", "back\\slash", "enc%2Fx", "dot%2E"]) {
      await fs.writeFile(join(root, `${name}~m`), sidecarText(VERSION));
      await fs.writeFile(join(root, `${name}~d-${VERSION}`), "x");
    }
    await fs.mkdir(join(root, "odd%41"));
    await fs.writeFile(join(root, "odd%41", `x~m`), sidecarText(VERSION));
    await fs.writeFile(join(root, "odd%41", `x~d-${VERSION}`), "x");
    const keys: string[] = [];
    for await (const summary of storage.list()) keys.push(summary.key);
    expect(keys).toEqual(["real"]);
  });

  it("leaves exactly one body after concurrent puts to one key", { timeout: 60_000 }, async () => {
    const body = Buffer.alloc(64 * 1024, 7);
    for (let round = 0; round < 25; round++) {
      await Promise.all(Array.from({ length: 4 }, () => storage.put("contended", body)));
    }
    const names = await namesIn(root);
    expect(names.filter((name) => name.startsWith("contended~d-"))).toHaveLength(1);
    expect(names).toHaveLength(2);
    expect((await storage.getBytes("contended")).bytes.byteLength).toBe(body.byteLength);
  });

  it("leaves exactly one body when deletes and puts of one key race", { timeout: 60_000 }, async () => {
    for (let round = 0; round < 25; round++) {
      await Promise.all([
        storage.put("raced", "one"),
        storage.delete("raced"),
        storage.put("raced", "two"),
        storage.delete("raced"),
      ]);
      const names = await namesIn(root);
      const bodies = names.filter((name) => name.includes("~d-")).length;
      expect(bodies).toBe(names.includes("raced~m") ? 1 : 0);
      expect(names.filter((name) => name.startsWith("~t-"))).toEqual([]);
    }
  });

  it("sweeps only its own orphans, never a foreign or look-alike file nor a damaged object's body", async () => {
    await storage.put("live", "live");
    await storage.put("damaged", "its body is kept");
    await fs.writeFile(join(root, "damaged~m"), "{ damaged");
    const ours = [`~t-${VERSION}`, `gone~d-${VERSION}`];
    const foreign = ["notes.txt", "~t-mine.txt", "report~d-final", `a~b~d-${VERSION}`, `~t-${VERSION}.bak`];
    for (const name of [...ours, ...foreign]) await fs.writeFile(join(root, name), "x");
    await fs.symlink(join(outside, "secret"), join(root, `~t-00000000000000ee`));
    for (const name of await namesIn(root)) await age(join(root, name), 2 * HOUR);

    expect(await storage.sweep({ olderThanMs: HOUR })).toBe(ours.length);
    const left = await namesIn(root);
    for (const name of ours) expect(left).not.toContain(name);
    for (const name of foreign) expect(left).toContain(name);
    expect(left).toContain("~t-00000000000000ee");
    expect(left.filter((name) => name.startsWith("damaged~d-"))).toHaveLength(1);
    expect(await fs.readFile(join(outside, "secret"), "utf8")).toBe("outside the root");
  });

  it("maps a symlink loop to INVALID_ARGUMENT with a message that says so", async () => {
    await fs.symlink("loop", join(root, "loop"));
    await fs.symlink("self~m", join(root, "self~m"));
    for (const action of [
      () => storage.head("loop/x"),
      () => storage.put("loop/x", "x"),
      () => storage.head("self"),
    ]) {
      const error = await rejection(action);
      expect(error).toMatchObject({ code: "INVALID_ARGUMENT" });
      expect(error.message).toContain("symlink");
      expect(error.message).not.toContain(root);
    }
  });
});

describe("local file manager with hostile files on disk", () => {
  let manager: LocalFileManager;

  beforeEach(() => {
    manager = createLocalFileManager({ root });
  });

  afterEach(async () => {
    await manager.close();
  });

  it("refuses a temporary folder that is a symlink to outside: sweep and withTempFile touch nothing there", async () => {
    await fs.symlink(outside, join(root, ".tmp"));
    await age(join(outside, "secret"), 2 * HOUR);
    await expectErrorCode(manager.sweep({ olderThanMs: HOUR }), "INVALID_ARGUMENT");
    let called = false;
    await expectErrorCode(
      manager.withTempFile(async () => {
        called = true;
      }),
      "INVALID_ARGUMENT",
    );
    expect(called).toBe(false);
    expect(await namesIn(outside)).toEqual(["secret"]);
  });

  it("removes a temporary file from the folder it was made in, even if that folder is swapped meanwhile", async () => {
    let handedOut = "";
    await manager.withTempFile(async (path) => {
      handedOut = path;
      await fs.writeFile(path, "work");
      // The temporary folder is moved away and replaced by a symlink to outside holding a file of
      // the same name: removing by path would now delete that one.
      await fs.rename(join(root, ".tmp"), join(root, "moved-tmp"));
      await fs.symlink(outside, join(root, ".tmp"));
      await fs.writeFile(join(outside, basename(path)), "an outside file");
    });
    expect(await fs.readFile(join(outside, basename(handedOut)), "utf8")).toBe("an outside file");
    expect(await namesIn(join(root, "moved-tmp"))).toEqual([]);
  });

  it("deletes a symlink inside the root, never its target", async () => {
    await manager.write("real.txt", "kept");
    await fs.symlink("real.txt", join(root, "link.txt"));
    await fs.mkdir(join(root, "folder"));
    await fs.symlink("folder", join(root, "folder-link"));
    expect(await manager.delete("link.txt")).toBe(true);
    expect(await manager.delete("folder-link")).toBe(true);
    expect(await namesIn(root)).toEqual(["folder", "real.txt"]);
    expect(Buffer.from(await manager.read("real.txt")).toString()).toBe("kept");
  });

  it("reclaims a killed writer's temporary file in the default sweep and keeps real files of the same age", async () => {
    await manager.write("jobs/report.csv", "a real file");
    await manager.write("jobs/.hidden-but-real", "also real");
    // What a writer killed between its temporary file and the rename leaves behind.
    await fs.writeFile(join(root, "jobs", `.~tmp-${VERSION}`), "partial");
    for (const name of await namesIn(join(root, "jobs"))) await age(join(root, "jobs", name), 2 * HOUR);
    expect(await manager.sweep({ olderThanMs: HOUR })).toBe(1);
    expect(await namesIn(join(root, "jobs"))).toEqual([".hidden-but-real", "report.csv"]);
  });

  it("lists no name that a caller could not pass back", async () => {
    await manager.write("ok.txt", "x");
    for (const name of ["back\\slash.txt", "enc%2Fx.txt", "%2e%2e", `.~tmp-${VERSION}`]) {
      await fs.writeFile(join(root, name), "x");
    }
    await fs.mkdir(join(root, "odd\\folder"));
    await fs.writeFile(join(root, "odd\\folder", "inner.txt"), "x");
    expect((await manager.list()).map((file) => file.path)).toEqual(["ok.txt"]);
  });

  it("maps a symlink loop to INVALID_ARGUMENT with a message that says so", async () => {
    await fs.symlink("loop", join(root, "loop"));
    for (const action of [
      () => manager.read("loop/x"),
      () => manager.write("loop/x", "x"),
      () => manager.read("loop"),
      () => manager.list("loop"),
      () => manager.sweep({ olderThanMs: 0, path: "loop" }),
    ]) {
      const error = await rejection(action);
      expect(error).toMatchObject({ code: "INVALID_ARGUMENT" });
      expect(error.message).toContain("symlink");
      expect(error.message).not.toContain(root);
    }
  });
});
