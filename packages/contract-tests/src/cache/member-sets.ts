import { type Cache, type CacheAddMembersOptions, MAX_CACHE_BATCH } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { type CacheHarness, PAST_SHORT_TTL_MS, SHORT_TTL_MS, withExtraCache } from "./harness.js";

const INVALID_TTLS: ReadonlyArray<readonly [string, number]> = [
  ["zero", 0],
  ["a negative number", -1],
  ["a fraction", 1.5],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
];

/**
 * Member sets (`capabilities.memberSets`): `addMembers` grows a set of strings under a key of its
 * own, `hasMember` asks about one member; sets live apart from values.
 */
export function memberSetTests(cache: () => Cache, harness: CacheHarness): void {
  const memberSets = harness.capabilities.memberSets === true;
  const addMembers = (
    key: string,
    members: readonly string[],
    options?: CacheAddMembersOptions,
    target: Cache = cache(),
  ) => (target.addMembers as NonNullable<Cache["addMembers"]>).call(target, key, members, options);
  const hasMember = (key: string, member: string, target: Cache = cache()) =>
    (target.hasMember as NonNullable<Cache["hasMember"]>).call(target, key, member);

  describe("member sets", () => {
    it("offers addMembers and hasMember exactly when capabilities.memberSets is true", () => {
      expect(typeof cache().addMembers === "function", "addMembers").toBe(memberSets);
      expect(typeof cache().hasMember === "function", "hasMember").toBe(memberSets);
    });

    it.skipIf(!memberSets)("tells the members added from the ones never added", async () => {
      expect(await hasMember("s", "a"), "before any addMembers").toBe(false);
      await addMembers("s", ["a", "b"]);
      expect(await hasMember("s", "a")).toBe(true);
      expect(await hasMember("s", "b")).toBe(true);
      expect(await hasMember("s", "c")).toBe(false);
      expect(await hasMember("other", "a"), "a set of another key").toBe(false);
    });

    it.skipIf(!memberSets)("accumulates the members of several calls, each kept once", async () => {
      await addMembers("s", ["a"]);
      await addMembers("s", ["b", "c"]);
      await addMembers("s", ["c", "d", "d", "a"]);
      await addMembers("s", ["a"]);
      for (const member of ["a", "b", "c", "d"]) expect(await hasMember("s", member), member).toBe(true);
      expect(await hasMember("s", "e")).toBe(false);
    });

    it.skipIf(!memberSets)("keeps members and keys of awkward characters exactly as given", async () => {
      const members = ["a*", "[x]", "%S:", "é", "🔑", "line\nbreak", "nul\u0000", "  "];
      await addMembers("k:*?[]%\\", members);
      for (const member of members) expect(await hasMember("k:*?[]%\\", member), member).toBe(true);
      expect(await hasMember("k:*?[]%\\", "ab"), "a glob must not match").toBe(false);
      expect(await hasMember("k:*?[]%\\", "%s:"), "members are case-sensitive").toBe(false);
      expect(await hasMember("k:", "a*"), "a prefix of the key is another key").toBe(false);
    });

    it.skipIf(!memberSets)("resolves at once for no members and creates nothing, TTL included", async () => {
      await addMembers("empty", []);
      expect(await hasMember("empty", "a")).toBe(false);
      await addMembers("s", ["a"], { ttlMs: SHORT_TTL_MS });
      await addMembers("s", [], { ttlMs: 60_000 });
      await addMembers("s", []);
      await sleep(PAST_SHORT_TTL_MS);
      expect(await hasMember("s", "a"), "an empty call must not have extended the TTL").toBe(false);
    });

    it.skipIf(!memberSets)(
      "expires the whole set ttlMs after a call, and an expired set is empty",
      async () => {
        await addMembers("short", ["a", "b"], { ttlMs: SHORT_TTL_MS });
        await addMembers("revived", ["a"], { ttlMs: SHORT_TTL_MS });
        await addMembers("forever", ["a"]);
        expect(await hasMember("short", "a")).toBe(true);
        await sleep(PAST_SHORT_TTL_MS);
        expect(await hasMember("short", "a"), "past its TTL").toBe(false);
        expect(await hasMember("short", "b"), "past its TTL").toBe(false);
        expect(await hasMember("forever", "a"), "a set added without ttlMs must not expire").toBe(true);
        // Added to with no lookup since it expired: the new set starts empty.
        await addMembers("revived", ["c"]);
        expect(await hasMember("revived", "c")).toBe(true);
        expect(await hasMember("revived", "a"), "an expired member came back with a new addMembers").toBe(
          false,
        );
      },
    );

    it.skipIf(!memberSets)("sets the whole set's TTL on each call, longer, shorter or none", async () => {
      await addMembers("longer", ["first"], { ttlMs: SHORT_TTL_MS });
      await addMembers("longer", ["second"], { ttlMs: 60_000 });
      await addMembers("shorter", ["first"], { ttlMs: 60_000 });
      await addMembers("shorter", ["second"], { ttlMs: SHORT_TTL_MS });
      await addMembers("none", ["first"], { ttlMs: SHORT_TTL_MS });
      await addMembers("none", ["second"]);
      await sleep(PAST_SHORT_TTL_MS);
      expect(await hasMember("longer", "first"), "a later, longer TTL keeps every member").toBe(true);
      expect(await hasMember("shorter", "first"), "a later, shorter TTL ends every member").toBe(false);
      expect(await hasMember("shorter", "second")).toBe(false);
      expect(await hasMember("none", "first"), "a later call without ttlMs removes the expiry").toBe(true);
    });

    it.skipIf(!memberSets || !harness.createWithDefaultTtl)(
      "applies the cache's default TTL to a call without ttlMs",
      async () => {
        const make = harness.createWithDefaultTtl as NonNullable<CacheHarness["createWithDefaultTtl"]>;
        await withExtraCache(
          harness,
          () => make(SHORT_TTL_MS),
          async (withDefault) => {
            await addMembers("default", ["a"], undefined, withDefault);
            await addMembers("own", ["a"], { ttlMs: 60_000 }, withDefault);
            expect(await hasMember("default", "a", withDefault)).toBe(true);
            await sleep(PAST_SHORT_TTL_MS);
            expect(await hasMember("default", "a", withDefault), "past the default TTL").toBe(false);
            expect(await hasMember("own", "a", withDefault)).toBe(true);
          },
        );
      },
    );

    it.skipIf(!memberSets)("keeps a value and a member set under one key apart", async () => {
      await cache().set("k", "value");
      await addMembers("k", ["value", "m"]);
      expect(await cache().get("k"), "addMembers changed the value").toBe("value");
      expect(await hasMember("k", "m")).toBe(true);
      await cache().set("k", "replaced");
      expect(await hasMember("k", "m"), "set removed the member set").toBe(true);
      expect(await cache().delete("k")).toBe(true);
      expect(await hasMember("k", "m"), "delete removed the member set").toBe(true);
      expect(await hasMember("k", "value")).toBe(true);
      await cache().set("v-only", "m");
      expect(await hasMember("v-only", "m"), "hasMember saw a value").toBe(false);
    });

    it.skipIf(!memberSets)("hides a member set from every value call", async () => {
      await addMembers("set-only", ["m"]);
      expect(await cache().get("set-only")).toBeUndefined();
      expect(await cache().has("set-only")).toBe(false);
      expect(await cache().delete("set-only"), "delete counted the member set").toBe(false);
      expect(await cache().deletePrefix("set-"), "deletePrefix counted the member set").toBe(0);
      expect(await cache().deletePrefix("set-only"), "deletePrefix counted the member set").toBe(0);
      expect((await cache().stats()).size, "stats counted the member set").toBe(0);
      let loads = 0;
      const loaded = await cache().getOrSet("set-only", async () => {
        loads += 1;
        return "loaded";
      });
      expect(loaded).toBe("loaded");
      expect(loads, "getOrSet saw the member set as a value").toBe(1);
      expect((await cache().stats()).size).toBe(1);
      if (cache().capabilities.tags) {
        await cache().set("tagged", 1, { tags: ["m", "set-only"] });
        await addMembers("tagged", ["m"]);
        expect(await cache().deleteByTag("m")).toBe(1);
        expect(await cache().deleteByTag("set-only")).toBe(0);
      }
      if (cache().capabilities.batchWrites) {
        await (cache().setMany as NonNullable<Cache["setMany"]>)([{ key: "set-only", value: "many" }]);
      }
      expect(await hasMember("set-only", "m"), "a value call removed the member set").toBe(true);
      if (cache().capabilities.tags) expect(await hasMember("tagged", "m")).toBe(true);
    });

    it.skipIf(!memberSets)("removes member sets on clear", async () => {
      await addMembers("s", ["a"]);
      await addMembers("t", ["b"], { ttlMs: 60_000 });
      await cache().set("s", "value");
      await cache().clear();
      expect(await hasMember("s", "a")).toBe(false);
      expect(await hasMember("t", "b")).toBe(false);
      expect(await cache().has("s")).toBe(false);
      await addMembers("s", ["c"]);
      expect(await hasMember("s", "c"), "a set made after clear").toBe(true);
      expect(await hasMember("s", "a")).toBe(false);
    });

    it.skipIf(!memberSets)(
      "refuses bad arguments with INVALID_ARGUMENT before adding any member",
      async () => {
        const tooMany = Array.from({ length: MAX_CACHE_BATCH + 1 }, (_, i) => (i === 0 ? "first" : `m${i}`));
        const bad: Array<[string, unknown, unknown, CacheAddMembersOptions | undefined]> = [
          ["an empty key", "", ["first"], undefined],
          ["a key with a lone surrogate", "k\ud800", ["first"], undefined],
          ["a key that is not a string", 1, ["first"], undefined],
          ["members that are not an array", "k", "first", undefined],
          ["null members", "k", null, undefined],
          ["a member that is not a string", "k", ["first", 2], undefined],
          ["an empty member", "k", ["first", ""], undefined],
          ["a member with a lone surrogate", "k", ["first", "m\udc00"], undefined],
          [`more than ${MAX_CACHE_BATCH} members`, "k", tooMany, undefined],
          ...INVALID_TTLS.map(
            ([label, ttlMs]) =>
              [`a ttlMs of ${label}`, "k", ["first"], { ttlMs }] as [
                string,
                unknown,
                unknown,
                CacheAddMembersOptions,
              ],
          ),
        ];
        for (const [what, key, members, options] of bad) {
          await expectErrorCode(
            addMembers(key as string, members as string[], options),
            "INVALID_ARGUMENT",
          ).catch((error: unknown) => {
            throw new Error(`${what}: ${String(error)}`, { cause: error });
          });
          expect(await hasMember("k", "first"), `${what}: a member was added`).toBe(false);
        }
        const max = Array.from({ length: MAX_CACHE_BATCH }, (_, i) => `m${i}`);
        await addMembers("k", max);
        expect(await hasMember("k", `m${MAX_CACHE_BATCH - 1}`), `${MAX_CACHE_BATCH} members are taken`).toBe(
          true,
        );
        expect(await hasMember("k", "m0")).toBe(true);
      },
    );

    it.skipIf(!memberSets)("refuses a bad key or member in hasMember with INVALID_ARGUMENT", async () => {
      await addMembers("k", ["m"]);
      for (const [key, member] of [
        ["", "m"],
        ["k\udc00", "m"],
        [3, "m"],
        ["k", ""],
        ["k", "m\ud800"],
        ["k", 3],
        ["k", undefined],
      ]) {
        await expectErrorCode(hasMember(key as string, member as string), "INVALID_ARGUMENT").catch(
          (error: unknown) => {
            throw new Error(
              `hasMember(${JSON.stringify(key)}, ${JSON.stringify(member)}): ${String(error)}`,
              {
                cause: error,
              },
            );
          },
        );
      }
    });

    it.skipIf(!memberSets)("loses no member to concurrent calls on one key", async () => {
      const calls = 40;
      const per = 25;
      const memberOf = (call: number, i: number) => `c${call}-m${i}`;
      await Promise.all(
        Array.from({ length: calls }, (_, call) =>
          addMembers(
            "busy",
            Array.from({ length: per }, (_, i) => memberOf(call, i)),
            { ttlMs: 60_000 },
          ),
        ),
      );
      const found = await Promise.all(
        Array.from({ length: calls * per }, (_, n) =>
          hasMember("busy", memberOf(Math.floor(n / per), n % per)),
        ),
      );
      expect(found.filter((present) => !present).length, "members lost").toBe(0);
    });

    it.skipIf(!memberSets || !harness.capabilities.shared)(
      "shares members with another instance, and loses none to concurrent writers in both",
      async () => {
        const createPeer = harness.createPeer as NonNullable<CacheHarness["createPeer"]>;
        await withExtraCache(
          harness,
          () => createPeer(cache()),
          async (peer) => {
            await addMembers("seen", ["mine"]);
            expect(await hasMember("seen", "mine", peer)).toBe(true);
            await addMembers("seen", ["theirs"], undefined, peer);
            expect(await hasMember("seen", "theirs")).toBe(true);

            const rounds = 30;
            const writes: Promise<void>[] = [];
            for (let round = 0; round < rounds; round++) {
              writes.push(addMembers("together", [`a${round}`, `a${round}'`]));
              writes.push(addMembers("together", [`b${round}`, `b${round}'`], undefined, peer));
            }
            await Promise.all(writes);
            const expected = Array.from({ length: rounds }, (_, round) => [
              `a${round}`,
              `a${round}'`,
              `b${round}`,
              `b${round}'`,
            ]).flat();
            const lost: string[] = [];
            for (const member of expected)
              if (!(await hasMember("together", member, peer))) lost.push(member);
            expect(lost, "members lost to a concurrent writer").toEqual([]);
          },
        );
      },
    );
  });
}
