import { type Cache, type InfrastructureError, isInfrastructureError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, uniqueName } from "../harness.js";
import { type CacheHarness, withExtraCache } from "./harness.js";

/** Keys a byte-oriented backend would map to one key if lone surrogates were let through. */
const LONE_SURROGATE_KEYS: ReadonlyArray<readonly [string, string]> = [
  ["a lone high surrogate at the end", "k\ud800"],
  ["a lone low surrogate at the end", "k\udc00"],
  ["a lone low surrogate at the start", "\udc00k"],
  ["a reversed surrogate pair", "k\udd11\ud83d"],
];

/** JSON numbers that every adapter must return exactly, the sign of zero included. */
const ODD_NUMBERS: ReadonlyArray<readonly [string, number]> = [
  ["negative zero", -0],
  ["the largest double", Number.MAX_VALUE],
  ["the smallest subnormal", Number.MIN_VALUE],
  ["an integer beyond 2^53", 2 ** 53 + 2],
  ["a negative fraction with an exponent", -1.5e-7],
  ["0.1 + 0.2", 0.1 + 0.2],
];

/** JSON values with awkward contents that every adapter must return equal. */
const AWKWARD_VALUES: ReadonlyArray<readonly [string, unknown]> = [
  ["negative zero inside objects and arrays", { a: -0, b: [-0, 0, { c: -0 }] }],
  ["strings holding lone surrogates", ["\ud800", "x\udc00y", { "\udfff": "\ud83d" }]],
  ["control characters, quotes and separators", 'a\u0000b\n"c":*?[]\\'],
  ["property names of Object.prototype", JSON.parse('{"__proto__":{"polluted":true},"constructor":1}')],
];

/** Values outside JSON: an in-process cache keeps them, a serialising one refuses them. */
const OUTSIDE_JSON: ReadonlyArray<readonly [string, () => unknown]> = [
  ["NaN", () => Number.NaN],
  ["Infinity", () => Number.POSITIVE_INFINITY],
  ["an undefined property", () => ({ a: undefined })],
  ["a sparse array", () => Object.assign(new Array(3), { 0: 1, 2: 3 })],
  ["a Date", () => new Date(0)],
  ["a Map", () => new Map([["a", 1]])],
  ["a BigInt", () => 10n],
];

/** Same meaning as `toEqual`, but `-0` and `0` differ at any depth. */
function expectSameValue(actual: unknown, expected: unknown, where = "value"): void {
  if (typeof expected === "number") {
    expect(
      Object.is(actual, expected),
      `${where}: expected ${Object.is(expected, -0) ? "-0" : expected}, got ${Object.is(actual, -0) ? "-0" : String(actual)}`,
    ).toBe(true);
    return;
  }
  if (typeof expected !== "object" || expected === null) {
    expect(actual, where).toBe(expected);
    return;
  }
  expect(typeof actual, where).toBe("object");
  expect(Array.isArray(actual), where).toBe(Array.isArray(expected));
  const actualObject = actual as Record<string, unknown>;
  const expectedObject = expected as Record<string, unknown>;
  expect(Object.keys(actualObject).sort(), where).toEqual(Object.keys(expectedObject).sort());
  for (const key of Object.keys(expectedObject)) {
    expectSameValue(actualObject[key], expectedObject[key], `${where}[${JSON.stringify(key)}]`);
  }
}

async function expectInvalid(action: Promise<unknown>): Promise<InfrastructureError> {
  return expectErrorCode(action, "INVALID_ARGUMENT");
}

export function hostileInputTests(cache: () => Cache, harness: CacheHarness): void {
  describe("hostile keys", () => {
    it.each(LONE_SURROGATE_KEYS)(
      "rejects a key with %s with INVALID_ARGUMENT on every keyed method",
      async (_label, key) => {
        let calls = 0;
        await expectInvalid(cache().set(key, 1));
        await expectInvalid(cache().get(key));
        await expectInvalid(cache().has(key));
        await expectInvalid(cache().delete(key));
        await expectInvalid(
          cache().getOrSet(key, async () => {
            calls += 1;
            return 1;
          }),
        );
        await expectInvalid(cache().deletePrefix(key));
        expect(calls, "getOrSet must not call the loader for a refused key").toBe(0);
        expect((await cache().stats()).size).toBe(0);
      },
    );

    it("never lets a lone surrogate reach the entry of the replacement character", async () => {
      await cache().set("k\ufffd", "replacement character");
      await expectInvalid(cache().get("k\ud800"));
      await expectInvalid(cache().set("k\udc00", "overwrite"));
      await expectInvalid(cache().delete("k\ud800"));
      expect(await cache().get("k\ufffd")).toBe("replacement character");
    });

    it("keeps keys apart that differ only in astral characters, and accepts surrogate pairs", async () => {
      const keys = ["k\ud83d\udd11", "k\ud83d\udd12", "k\ufffd", "k\ufffd\ufffd", "k"];
      for (const [index, key] of keys.entries()) await cache().set(key, index);
      for (const [index, key] of keys.entries()) expect(await cache().get(key), key).toBe(index);
      expect(await cache().deletePrefix("k\ud83d\udd11")).toBe(1);
      expect(await cache().get("k\ud83d\udd12")).toBe(1);
    });

    it("refuses a deletePrefix prefix ending in half a surrogate pair, and leaves the pairs alone", async () => {
      await cache().set("k\ud83d\udd11", 1);
      await expectInvalid(cache().deletePrefix("k\ud83d"));
      expect(await cache().get("k\ud83d\udd11")).toBe(1);
    });
  });

  describe("values", () => {
    it.each(ODD_NUMBERS)("returns %s exactly from get and getOrSet", async (_label, value) => {
      await cache().set("n", value);
      expectSameValue(await cache().get("n"), value);
      expectSameValue(await cache().getOrSet("n", async () => 1), value);
      expectSameValue(await cache().getOrSet("loaded", async () => value), value);
      expectSameValue(await cache().get("loaded"), value);
    });

    it.each(AWKWARD_VALUES)("returns %s equal", async (_label, value) => {
      await cache().set("v", value);
      expectSameValue(await cache().get("v"), value);
      expect(({} as Record<string, unknown>).polluted, "Object.prototype was polluted").toBeUndefined();
    });

    it.skipIf(harness.valuesOutsideJson !== "refused").each(OUTSIDE_JSON)(
      "refuses %s with INVALID_ARGUMENT and stores nothing",
      async (_label, make) => {
        await expectInvalid(cache().set("v", make()));
        expect(await cache().has("v")).toBe(false);
        await expectInvalid(cache().getOrSet("loaded", async () => make()));
        expect(await cache().has("loaded")).toBe(false);
      },
    );

    it.skipIf(harness.valuesOutsideJson !== "kept").each(OUTSIDE_JSON)(
      "keeps %s as stored",
      async (_label, make) => {
        const value = make();
        await cache().set("v", value);
        const got = await cache().get("v");
        if (typeof value === "number") expect(Object.is(got, value)).toBe(true);
        else expect(got).toStrictEqual(value);
      },
    );
  });

  describe("namespaces", () => {
    it.skipIf(!harness.createInNamespace)(
      "keeps namespaces apart when one name starts with another: clear, deletePrefix and stats touch their own",
      async () => {
        const create = harness.createInNamespace!;
        const base = uniqueName("ns");
        const names = [base, `${base}:sub`, `${base}:`, `${base}%3Asub`, `${base}*`, `${base}\\`];
        const caches: Cache[] = [];
        try {
          for (const name of names) caches.push(await create(name));
          const [parent, ...others] = caches as [Cache, ...Cache[]];
          // Each cache writes the key that, without separation, would read as the parent's "sub:k".
          for (const [index, other] of others.entries()) await other.set("k", index);
          await parent.set("sub:k", "parent");
          await parent.set("own", "parent");
          expect((await parent.stats()).size, "stats of one namespace counted another's keys").toBe(2);
          expect(await parent.deletePrefix("sub:")).toBe(1);
          await parent.clear();
          for (const [index, other] of others.entries()) {
            expect(await other.get("k"), `namespace ${names[index + 1]} lost its entry`).toBe(index);
            expect((await other.stats()).size, names[index + 1]).toBe(1);
          }
          await others[0]!.clear();
          expect(await others[1]!.get("k"), "clear of one namespace emptied a look-alike").toBe(1);
        } finally {
          for (const opened of caches) {
            if (harness.destroy) await harness.destroy(opened);
            else await opened.close();
          }
        }
      },
    );

    it.skipIf(!harness.createInNamespace)(
      "rejects a namespace holding a lone surrogate with INVALID_ARGUMENT",
      async () => {
        const create = harness.createInNamespace!;
        const caught = await create(`${uniqueName("ns")}\ud800`).then(
          async (made) => {
            await withExtraCache(
              harness,
              async () => made,
              async () => undefined,
            );
            return "created";
          },
          (error: unknown) => error,
        );
        expect(isInfrastructureError(caught, "INVALID_ARGUMENT"), String(caught)).toBe(true);
      },
    );
  });
}
