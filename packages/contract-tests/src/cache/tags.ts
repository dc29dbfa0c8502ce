import { type Cache, MAX_CACHE_TAGS } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { type CacheHarness, deferred, PAST_SHORT_TTL_MS, SHORT_TTL_MS, withExtraCache } from "./harness.js";

/** Tags that a glob- or separator-minded backend could confuse with one another. */
const LOOK_ALIKE_TAGS = ["t", "t*", "t?", "t[x]", "t:", "t\\", "T", "t ", "тег", "🏷"];

export function tagTests(cache: () => Cache, harness: CacheHarness): void {
  const tags = harness.capabilities.tags;

  describe("tags", () => {
    it.skipIf(!tags)("deleteByTag removes every entry carrying the tag and returns how many", async () => {
      await cache().set("tenant:1:plan", "p1", { tags: ["tenant:1"] });
      await cache().set("tenant:1:seats", 5, { tags: ["tenant:1", "seats"] });
      await cache().set("tenant:2:plan", "p2", { tags: ["tenant:2"] });
      await cache().set("untagged", "u");
      expect(await cache().deleteByTag("tenant:1")).toBe(2);
      expect(await cache().has("tenant:1:plan")).toBe(false);
      expect(await cache().get("tenant:1:seats")).toBeUndefined();
      expect(await cache().get("tenant:2:plan")).toBe("p2");
      expect(await cache().get("untagged")).toBe("u");
      expect(await cache().deleteByTag("tenant:1"), "a second deleteByTag finds nothing").toBe(0);
      expect(await cache().deleteByTag("seats"), "the entry is gone under its other tag too").toBe(0);
      expect(await cache().deleteByTag("never-used")).toBe(0);
    });

    it.skipIf(!tags)(
      "counts an entry with several tags once, and removes it through any of them",
      async () => {
        await cache().set("k", 1, { tags: ["a", "b", "a"] });
        expect(await cache().deleteByTag("b")).toBe(1);
        expect(await cache().has("k")).toBe(false);
        await cache().set("k", 2, { tags: ["a", "b"] });
        expect(await cache().deleteByTag("a")).toBe(1);
        expect(await cache().deleteByTag("b")).toBe(0);
      },
    );

    it.skipIf(!tags)(
      "lets a later set replace the tags: an old tag no longer reaches the entry",
      async () => {
        await cache().set("retagged", "v1", { tags: ["old"] });
        await cache().set("retagged", "v2", { tags: ["new"] });
        await cache().set("untagged-now", "v1", { tags: ["old"] });
        await cache().set("untagged-now", "v2");
        await cache().set("empty-tags", "v1", { tags: ["old"] });
        await cache().set("empty-tags", "v2", { tags: [] });
        expect(await cache().deleteByTag("old")).toBe(0);
        expect(await cache().get("retagged")).toBe("v2");
        expect(await cache().get("untagged-now")).toBe("v2");
        expect(await cache().get("empty-tags")).toBe("v2");
        expect(await cache().deleteByTag("new")).toBe(1);
        expect(await cache().has("retagged")).toBe(false);
      },
    );

    it.skipIf(!tags)(
      "tags a value loaded by getOrSet, and deleteByTag sends the next call to the loader",
      async () => {
        let calls = 0;
        const loader = async () => {
          calls += 1;
          return `load ${calls}`;
        };
        expect(await cache().getOrSet("k", loader, { tags: ["group"] })).toBe("load 1");
        expect(await cache().getOrSet("k", loader, { tags: ["group"] })).toBe("load 1");
        expect(await cache().deleteByTag("group")).toBe(1);
        expect(await cache().getOrSet("k", loader, { tags: ["group"] })).toBe("load 2");
        expect(calls).toBe(2);
      },
    );

    it.skipIf(!tags)("does not store a load that a deleteByTag of one of its tags overtook", async () => {
      const gate = deferred<string>();
      const load = cache().getOrSet("k", () => gate.promise, { tags: ["group"] });
      // Let the load start (a remote cache looks the key up first).
      await sleep(50);
      await cache().deleteByTag("group");
      gate.resolve("stale");
      expect(await load, "the waiter still gets the loaded value").toBe("stale");
      expect(await cache().get("k"), "the overtaken load must not be stored").toBeUndefined();
    });

    it.skipIf(!tags)("keeps look-alike tags apart: no glob or separator meaning", async () => {
      for (const [index, tag] of LOOK_ALIKE_TAGS.entries())
        await cache().set(`k${index}`, index, { tags: [tag] });
      for (const [index, tag] of LOOK_ALIKE_TAGS.entries()) {
        expect(await cache().deleteByTag(tag), tag).toBe(1);
        expect(await cache().has(`k${index}`), tag).toBe(false);
        const next = index + 1;
        if (next < LOOK_ALIKE_TAGS.length) expect(await cache().get(`k${next}`), `after ${tag}`).toBe(next);
      }
    });

    it.skipIf(!tags)("does not count an entry past its TTL, nor one already deleted or cleared", async () => {
      await cache().set("short", 1, { ttlMs: SHORT_TTL_MS, tags: ["t"] });
      await cache().set("deleted", 2, { tags: ["t"] });
      await cache().set("prefixed:1", 3, { tags: ["t"] });
      await cache().set("kept", 4, { tags: ["t"], ttlMs: 60_000 });
      await cache().delete("deleted");
      expect(await cache().deletePrefix("prefixed:")).toBe(1);
      await sleep(PAST_SHORT_TTL_MS);
      expect(await cache().deleteByTag("t")).toBe(1);
      expect(await cache().has("kept")).toBe(false);
      await cache().set("after-clear", 5, { tags: ["u"] });
      await cache().clear();
      expect(await cache().deleteByTag("u")).toBe(0);
      await cache().set("after-clear", 6);
      expect(await cache().deleteByTag("u"), "a re-set without tags is not reached by the old tag").toBe(0);
      expect(await cache().get("after-clear")).toBe(6);
    });

    it.skipIf(!tags)("removes a tag spanning many entries", async () => {
      const count = 1_200;
      await Promise.all(
        Array.from({ length: count }, (_, i) => cache().set(`bulk:${i}`, i, { tags: ["bulk"] })),
      );
      await cache().set("other", 1, { tags: ["other"] });
      expect(await cache().deleteByTag("bulk")).toBe(count);
      expect(await cache().has("bulk:0")).toBe(false);
      expect(await cache().has(`bulk:${count - 1}`)).toBe(false);
      expect(await cache().get("other")).toBe(1);
      expect((await cache().stats()).size).toBe(1);
    });

    it.skipIf(!tags)("leaves another cache's entries alone", async () => {
      await withExtraCache(
        harness,
        () => harness.create(),
        async (other) => {
          await other.set("k", "other's", { tags: ["shared-name"] });
          await cache().set("k", "mine", { tags: ["shared-name"] });
          expect(await cache().deleteByTag("shared-name")).toBe(1);
          expect(await other.get("k")).toBe("other's");
        },
      );
    });

    it.skipIf(!tags || !harness.capabilities.shared)(
      "removes tagged entries written by another instance over the same namespace",
      async () => {
        expect(harness.createPeer, "a shared cache's harness must offer createPeer").toBeDefined();
        const peer = await harness.createPeer!(cache());
        try {
          await cache().set("k", "v", { tags: ["t"] });
          expect(await peer.get("k")).toBe("v");
          expect(await peer.deleteByTag("t")).toBe(1);
          expect(await cache().has("k")).toBe(false);
          expect(await cache().get("k")).toBeUndefined();
        } finally {
          await peer.close();
        }
      },
    );

    it.skipIf(!tags)(
      "refuses a tag that breaks the key rule with INVALID_ARGUMENT and stores nothing",
      async () => {
        const refused: unknown[] = ["", "t\ud800", 42, null];
        for (const tag of refused) {
          const label = JSON.stringify(tag);
          await expectErrorCode(cache().set("k", 1, { tags: [tag as string] }), "INVALID_ARGUMENT").catch(
            (e) => {
              throw new Error(`set with tag ${label}: ${String(e)}`, { cause: e });
            },
          );
          await expectErrorCode(cache().deleteByTag(tag as string), "INVALID_ARGUMENT").catch((e) => {
            throw new Error(`deleteByTag ${label}: ${String(e)}`, { cause: e });
          });
        }
        await expectErrorCode(cache().set("k", 1, { tags: "t" as unknown as string[] }), "INVALID_ARGUMENT");
        let calls = 0;
        await expectErrorCode(
          cache().getOrSet(
            "k",
            async () => {
              calls += 1;
              return 1;
            },
            { tags: [""] },
          ),
          "INVALID_ARGUMENT",
        );
        expect(calls, "getOrSet must not call the loader for refused tags").toBe(0);
        expect(await cache().has("k")).toBe(false);
      },
    );

    it.skipIf(!tags)(`refuses more than ${MAX_CACHE_TAGS} distinct tags on one entry`, async () => {
      const many = Array.from({ length: MAX_CACHE_TAGS + 1 }, (_, i) => `t${i}`);
      await expectErrorCode(cache().set("k", 1, { tags: many }), "INVALID_ARGUMENT");
      expect(await cache().has("k")).toBe(false);
      await cache().set("k", 1, { tags: many.slice(1) });
      expect(await cache().deleteByTag(`t${MAX_CACHE_TAGS}`)).toBe(1);
    });

    it.skipIf(tags)(
      "refuses deleteByTag and non-empty tags with NOT_SUPPORTED, and stores nothing",
      async () => {
        await expectErrorCode(cache().deleteByTag("t"), "NOT_SUPPORTED");
        await expectErrorCode(cache().set("k", 1, { tags: ["t"] }), "NOT_SUPPORTED");
        expect(await cache().has("k")).toBe(false);
        let calls = 0;
        await expectErrorCode(
          cache().getOrSet(
            "k",
            async () => {
              calls += 1;
              return 1;
            },
            { tags: ["t"] },
          ),
          "NOT_SUPPORTED",
        );
        expect(calls).toBe(0);
        await cache().set("k", 1, { tags: [] });
        expect(await cache().get("k"), "an empty tags array is the same as none").toBe(1);
      },
    );
  });
}
