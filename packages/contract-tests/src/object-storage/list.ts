import { describe, expect, it } from "vitest";
import { allKeys, byteOrder, inBatches, type StorageGetter } from "./fixtures.js";

/**
 * UTF-16 code unit order (JavaScript's default sort) and UTF-8 byte order disagree on the last two:
 * U+FF61 is EF BD A1 in UTF-8 but sorts after the surrogate pair of U+1F600 (F0 9F 98 80) in UTF-16.
 */
const ORDER_KEYS = ["B", "a", "a/b", "a-b", "a0", "a.b", "ab", "é", "\uff61", "😀", "Z/z", "0"];

export function listTests(storage: StorageGetter): void {
  describe("list and listPage", () => {
    it("lists an empty bucket as empty", async () => {
      expect(await allKeys(storage())).toEqual([]);
      expect((await storage().listPage()).items).toEqual([]);
      expect((await storage().listPage()).nextCursor).toBeUndefined();
    });

    it("yields every object once, in ascending UTF-8 byte order of key", async () => {
      await inBatches(ORDER_KEYS, 4, (key) => storage().put(key, key));
      const expected = byteOrder(ORDER_KEYS);
      expect(expected.indexOf("\uff61")).toBeLessThan(expected.indexOf("😀"));
      expect(await allKeys(storage())).toEqual(expected);
    });

    it("reports size, etag and last-modified time for each object", async () => {
      const put = await storage().put("sized", "twelve bytes");
      const [summary] = await collect(storage().list());
      expect(summary?.key).toBe("sized");
      expect(summary?.size).toBe(12);
      expect(summary?.etag).toBe(put.etag);
      expect(summary?.lastModified).toBeInstanceOf(Date);
    });

    it("lists only keys starting with the prefix, which need not end at a slash", async () => {
      await inBatches(
        ["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos", "photo", "videos/x"],
        4,
        (k) => storage().put(k, "x"),
      );
      expect(await allKeys(storage(), "photos/")).toEqual([
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
      ]);
      expect(await allKeys(storage(), "photos/2024/")).toEqual(["photos/2024/a.jpg", "photos/2024/b.jpg"]);
      expect(await allKeys(storage(), "photo")).toEqual([
        "photo",
        "photos",
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
      ]);
      expect(await allKeys(storage(), "photos/2024/a")).toEqual(["photos/2024/a.jpg"]);
      expect(await allKeys(storage(), "nothing-here/")).toEqual([]);
    });

    it("walks listPage cursors over every object exactly once, in order", async () => {
      const keys = Array.from({ length: 23 }, (_, i) => `page/${String.fromCharCode(97 + (i % 26))}${i}`);
      await inBatches(keys, 8, (key) => storage().put(key, "x"));
      await storage().put("other", "x");
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await storage().listPage({ prefix: "page/", pageSize: 5, ...(after ? { after } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(5);
        if (page.nextCursor !== undefined) expect(page.items.length).toBeGreaterThan(0);
        seen.push(...page.items.map((item) => item.key));
        after = page.nextCursor;
        pages++;
        expect(pages).toBeLessThan(30);
      } while (after !== undefined);
      expect(seen).toEqual(byteOrder(keys));
      expect(pages).toBeGreaterThanOrEqual(5);
    });

    it("stops cleanly when the caller breaks out of a listing early", async () => {
      const keys = Array.from({ length: 12 }, (_, i) => `lazy/${String(i).padStart(2, "0")}`);
      await inBatches(keys, 6, (key) => storage().put(key, "x"));
      const firstThree: string[] = [];
      for await (const summary of storage().list({ prefix: "lazy/", pageSize: 2 })) {
        firstThree.push(summary.key);
        if (firstThree.length === 3) break;
      }
      expect(firstThree).toEqual(keys.slice(0, 3));
      const all: string[] = [];
      for await (const summary of storage().list({ prefix: "lazy/", pageSize: 5 })) all.push(summary.key);
      expect(all).toEqual(keys);
    });
  });
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}
