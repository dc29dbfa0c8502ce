import { createMemoryCache } from "@proj/cache-memory";
import { type Cache, isInfrastructureError } from "@proj/ports";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisCache } from "../src/index.js";
import { destroyCache, openCache } from "./support/redis.js";

/**
 * Property-based check that memory and Redis give the same answer to the same calls: the same value
 * back (`-0` included) or the same error code, and never an error outside the taxonomy. Keys come
 * from a small hostile alphabet (lone surrogates, separators, glob and escape characters), so
 * generated calls often meet each other's keys and prefixes.
 */

const KEY_UNITS = [
  "a",
  "b",
  ":",
  "*",
  "?",
  "[",
  "]",
  "\\",
  "%",
  "^",
  " ",
  "\n",
  "\u0000",
  "\ufffd",
  "\ud800",
  "\udc00",
  "\ud83d",
  "\udd11",
  "\ud83d\udd11",
];
const keyArb = fc.string({ unit: fc.constantFrom(...KEY_UNITS), minLength: 0, maxLength: 4 });

const ODD_NUMBERS = [
  -0,
  0,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  2 ** 53 + 2,
  -(2 ** 53) - 2,
  -1.5e-7,
  0.1 + 0.2,
];
const numberArb = fc.oneof(
  fc.constantFrom(...ODD_NUMBERS),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const textArb = fc.string({ unit: fc.constantFrom(...KEY_UNITS, '"', "'", "{", "}", "é"), maxLength: 6 });

/** Objects built with defineProperty, so `__proto__` is an own key rather than a prototype change. */
function objectOf(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}

const { json: jsonArb } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    numberArb,
    textArb,
    fc.array(tie("json"), { maxLength: 4 }),
    fc
      .array(
        fc.tuple(fc.oneof(textArb, fc.constantFrom("__proto__", "constructor", "toJSON")), tie("json")),
        {
          maxLength: 4,
        },
      )
      .map(objectOf),
  ),
}));

type Call =
  | { op: "set"; key: string; value: unknown }
  | { op: "get" | "has" | "delete"; key: string }
  | { op: "deletePrefix"; key: string }
  | { op: "getOrSet"; key: string; value: unknown }
  | { op: "addMembers"; key: string; members: string[] }
  | { op: "hasMember"; key: string; member: string };

const callArb: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), key: keyArb, value: jsonArb }),
  fc.record({ op: fc.constantFrom("get" as const, "has" as const, "delete" as const), key: keyArb }),
  fc.record({ op: fc.constant("deletePrefix" as const), key: keyArb }),
  fc.record({ op: fc.constant("getOrSet" as const), key: keyArb, value: jsonArb }),
  fc.record({
    op: fc.constant("addMembers" as const),
    key: keyArb,
    members: fc.array(keyArb, { maxLength: 4 }),
  }),
  fc.record({ op: fc.constant("hasMember" as const), key: keyArb, member: keyArb }),
);

type Outcome = { value: unknown } | { code: string };

async function outcomeOf(action: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await action() };
  } catch (error) {
    if (!isInfrastructureError(error))
      throw new Error(`an error outside the taxonomy: ${String(error)}`, { cause: error });
    return { code: error.code };
  }
}

function run(cache: Cache, call: Call): Promise<Outcome> {
  switch (call.op) {
    case "set":
      return outcomeOf(() => cache.set(call.key, call.value));
    case "getOrSet":
      return outcomeOf(() => cache.getOrSet(call.key, async () => call.value));
    case "deletePrefix":
      return outcomeOf(() => cache.deletePrefix(call.key));
    case "addMembers":
      return outcomeOf(() => (cache.addMembers as NonNullable<Cache["addMembers"]>)(call.key, call.members));
    case "hasMember":
      return outcomeOf(() => (cache.hasMember as NonNullable<Cache["hasMember"]>)(call.key, call.member));
    default:
      return outcomeOf(() => cache[call.op](call.key));
  }
}

/** Equality where `-0` and `0` differ and only own enumerable keys count. */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every(
    (key) =>
      Object.hasOwn(b, key) &&
      sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

function describeOutcome(outcome: Outcome): string {
  if ("code" in outcome) return outcome.code;
  const { value } = outcome;
  return Object.is(value, -0) ? "-0" : (JSON.stringify(value) ?? String(value));
}

describe("memory and Redis agree", () => {
  let memory: Cache;
  let redis: RedisCache<unknown>;

  beforeAll(() => {
    memory = createMemoryCache({ maxEntries: 10_000 });
    redis = openCache<unknown>();
  });
  afterAll(async () => {
    await memory.close();
    await destroyCache(redis);
  });

  it("answers every generated sequence of calls with the same values or the same error codes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 12 }), async (calls) => {
        const written = new Set<string>();
        const grown = new Set<string>();
        try {
          for (const call of calls) {
            if (call.op === "set" || call.op === "getOrSet") written.add(call.key);
            if (call.op === "addMembers") grown.add(call.key);
            const fromMemory = await run(memory, call);
            const fromRedis = await run(redis, call);
            const agree =
              "code" in fromMemory
                ? "code" in fromRedis && fromRedis.code === fromMemory.code
                : "value" in fromRedis && sameValue(fromMemory.value, fromRedis.value);
            expect(
              agree,
              `${call.op}(${JSON.stringify(call.key)}): memory ${describeOutcome(fromMemory)}, Redis ${describeOutcome(fromRedis)}`,
            ).toBe(true);
          }
          expect((await redis.stats()).size).toBe((await memory.stats()).size);
        } finally {
          // Keys a run stored, removed one by one: cheaper than a SCAN of the database per run.
          for (const key of written) {
            await memory.delete(key).catch(() => undefined);
            await redis.delete(key).catch(() => undefined);
          }
          // Member sets have no delete: the memory cache is cleared (its values are gone by now),
          // Redis' sets unlinked by name (the test's namespace holds no `%` or `:`).
          if (grown.size > 0) {
            await memory.clear();
            await redis.client.unlink(...[...grown].map((key) => `${redis.namespace}%S:${key}`));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("refuses every value outside JSON on Redis with INVALID_ARGUMENT, where memory keeps it as stored", async () => {
    const outsideJsonArb = fc.oneof(
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      fc.bigInt().map((value) => ({ nested: [value] })),
      jsonArb.map((value) => ({ value, missing: undefined })),
      jsonArb.map((value) => [value, new Date(0)]),
      jsonArb.map((value) => ({ deep: { map: new Map([["k", value]]) } })),
    );
    await fc.assert(
      fc.asyncProperty(
        keyArb.filter((key) => key !== "" && !/\p{Cs}/u.test(key)),
        outsideJsonArb,
        async (key, value) => {
          const refused = await run(redis, { op: "set", key, value });
          expect(refused).toEqual({ code: "INVALID_ARGUMENT" });
          expect(await run(redis, { op: "has", key })).toEqual({ value: false });
          expect(await run(memory, { op: "set", key, value })).toEqual({ value: undefined });
          const kept = await run(memory, { op: "get", key });
          expect("value" in kept && Object.is(kept.value, value)).toBe(true);
          await memory.delete(key);
        },
      ),
      { numRuns: 100 },
    );
  });
});
