import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { LocalFileManager } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { isRoot, type LocalFileManagerHarness, type ManagerGetter } from "./fixtures.js";

const CALLS: ReadonlyArray<[string, (manager: LocalFileManager) => Promise<unknown>]> = [
  ["resolve", (m) => m.resolve("present.txt")],
  ["write", (m) => m.write("new.txt", "x")],
  ["read", (m) => m.read("present.txt")],
  ["createReadStream", (m) => m.createReadStream("present.txt")],
  ["exists", (m) => m.exists("present.txt")],
  ["stat", (m) => m.stat("present.txt")],
  ["delete", (m) => m.delete("present.txt")],
  ["list", (m) => m.list()],
  ["withTempFile", (m) => m.withTempFile(async () => undefined)],
  ["sweep", (m) => m.sweep({ olderThanMs: 0 })],
];

export function lifecycleTests(manager: ManagerGetter, harness: LocalFileManagerHarness): void {
  describe("errors, cancellation and close", () => {
    it("rejects read with CANCELLED for an already aborted signal", async () => {
      await manager().write("present.txt", "x");
      await expectErrorCode(manager().read("present.txt", { signal: AbortSignal.abort() }), "CANCELLED");
    });

    it.skipIf(isRoot)(
      "maps permission denied to PERMISSION_DENIED (skipped as root: root ignores modes)",
      async () => {
        const folder = join(manager().root, "locked");
        await fs.mkdir(folder);
        await fs.writeFile(join(folder, "secret.txt"), "x");
        await fs.chmod(join(folder, "secret.txt"), 0o000);
        await fs.chmod(folder, 0o500);
        try {
          await expectErrorCode(manager().write("locked/new.txt", "x"), "PERMISSION_DENIED");
          await expectErrorCode(manager().read("locked/secret.txt"), "PERMISSION_DENIED");
        } finally {
          await fs.chmod(folder, 0o700);
          await fs.chmod(join(folder, "secret.txt"), 0o600);
        }
      },
    );

    it.skipIf(!harness.smallDisk)(
      "maps a full disk to RESOURCE_EXHAUSTED and leaves no partial file",
      async () => {
        const { manager: full, release } = await (
          harness.smallDisk as NonNullable<typeof harness.smallDisk>
        )();
        try {
          await full.write("small.txt", "fits");
          await expectErrorCode(
            full.write("big.bin", Buffer.alloc(4 * 1024 * 1024, 1)),
            "RESOURCE_EXHAUSTED",
          );
          expect(await full.exists("big.bin")).toBe(false);
          expect((await full.list()).map((file) => file.path)).toEqual(["small.txt"]);
        } finally {
          await full.close();
          await release();
        }
      },
    );

    it("closes idempotently", async () => {
      await manager().close();
      await manager().close();
      await expectErrorCode(manager().exists("x"), "CLOSED");
    });

    for (const [name, call] of CALLS) {
      it(`rejects ${name} with CLOSED after close`, async () => {
        await manager().write("present.txt", "x");
        await manager().close();
        await expectErrorCode(call(manager()), "CLOSED");
      });
    }

    it("closes through Symbol.asyncDispose", async () => {
      await manager()[Symbol.asyncDispose]();
      await expectErrorCode(manager().list(), "CLOSED");
    });
  });
}
