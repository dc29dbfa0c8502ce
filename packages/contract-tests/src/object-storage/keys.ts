import type { ObjectStorage } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode } from "../harness.js";
import { expectBytes, type StorageGetter } from "./fixtures.js";

const INVALID_KEYS: ReadonlyArray<[string, string]> = [
  ["an empty key", ""],
  ["a key over 1024 UTF-8 bytes", "k".repeat(1025)],
  ["a key of 513 two-byte characters (1026 bytes)", "é".repeat(513)],
  ["a key with a NUL byte", "a\u0000b"],
  ["a key with a newline", "a\nb"],
  ["a key with a tab", "a\tb"],
  ["a key with DEL", "a\u007fb"],
  ["a key with a C1 control character", "a\u0085b"],
];

/** Every operation that takes a key, so each one is checked against the same corpus. */
const KEYED_OPERATIONS: ReadonlyArray<[string, (storage: ObjectStorage, key: string) => Promise<unknown>]> = [
  ["put", (s, k) => s.put(k, "x")],
  ["get", (s, k) => s.get(k)],
  ["getBytes", (s, k) => s.getBytes(k)],
  ["head", (s, k) => s.head(k)],
  ["exists", (s, k) => s.exists(k)],
  ["delete", (s, k) => s.delete(k)],
  ["deleteMany", (s, k) => s.deleteMany([k])],
  ["copy (source)", (s, k) => s.copy(k, "copy-target")],
  ["copy (destination)", (s, k) => s.copy("copy-source", k)],
];

const ROUND_TRIP_KEYS = [
  "plain",
  "with space.txt",
  "dots.in.the.name.tar.gz",
  ".leading-dot",
  "nested/folders/are/just/characters.json",
  "ünïcødé/日本語/файл.txt",
  "emoji-😀.bin",
  "punctuation !$&'()*+,;=@[]{}~^.txt",
  // 102 segments of 9 characters + "/" and a 4-character tail: exactly 1024 bytes.
  `${"abcdefghi/".repeat(102)}tail`,
];

export function keyTests(storage: StorageGetter): void {
  describe("keys", () => {
    for (const [label, key] of INVALID_KEYS) {
      it(`rejects ${label} with INVALID_ARGUMENT in every operation`, async () => {
        const s = storage();
        await s.put("copy-source", "source");
        for (const [, operation] of KEYED_OPERATIONS) {
          await expectErrorCode(() => operation(s, key), "INVALID_ARGUMENT");
        }
        expect(await s.exists("copy-target")).toBe(false);
      });
    }

    it("round-trips keys with spaces, dots, slashes, unicode, punctuation and 1024 bytes", async () => {
      const s = storage();
      expect(Buffer.byteLength(ROUND_TRIP_KEYS.at(-1) ?? "")).toBe(1024);
      for (const [index, key] of ROUND_TRIP_KEYS.entries()) {
        const body = `body of key ${index}`;
        const info = await s.put(key, body);
        expect(info.key).toBe(key);
        expectBytes((await s.getBytes(key)).bytes, Buffer.from(body));
        expect((await s.head(key)).key).toBe(key);
      }
      const listed: string[] = [];
      for await (const summary of s.list()) listed.push(summary.key);
      expect([...listed].sort()).toEqual([...ROUND_TRIP_KEYS].sort());
    });

    it("treats `/` as an ordinary character: a key and a key under it as a prefix coexist", async () => {
      const s = storage();
      await s.put("folder", "the object named folder");
      await s.put("folder/inner", "an object under it");
      expect(Buffer.from((await s.getBytes("folder")).bytes).toString()).toBe("the object named folder");
      expect(Buffer.from((await s.getBytes("folder/inner")).bytes).toString()).toBe("an object under it");
      await s.delete("folder");
      expect(await s.exists("folder")).toBe(false);
      expect(await s.exists("folder/inner")).toBe(true);
    });
  });
}
