import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { PGlite } from "@electric-sql/pglite";
import { createLocalFileManager } from "@proj/adapter-local-fs";
import {
  createMemoryDocumentDatabase,
  createMemoryJobQueue,
  createMemoryObjectStorage,
  createMemoryTenantRepository,
  createMemoryTokenAuthority,
} from "@proj/adapter-memory";
import { createPgliteDatabase } from "@proj/adapter-pglite";
import { createMemoryCache } from "@proj/cache-memory";
import { collectBytes, expectErrorCode, uniqueName } from "@proj/contract-tests";
import { withoutBatchWrites, withoutMemberSets } from "@proj/decorator-contracts";
import { isInfrastructureError, isOutcomeUnknown, sql, UnauthenticatedError } from "@proj/ports";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Chaos,
  type ChaosOptions,
  type ChaosRule,
  createChaos,
  withChaosCache,
  withChaosDocumentDatabase,
  withChaosJobQueue,
  withChaosLocalFileManager,
  withChaosObjectStorage,
  withChaosReportGenerator,
  withChaosSqlDatabase,
  withChaosTenantRepository,
  withChaosTokenDecoder,
} from "../src/index.js";

/** Runs `calls` gets over `keys` through a fresh chaos and returns what was injected, without clock times. */
async function run(options: ChaosOptions, calls: number, keys = ["a", "b", "c"]) {
  const chaos = createChaos(options);
  const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
  const outcomes: string[] = [];
  for (let i = 0; i < calls; i++) {
    const key = keys[i % keys.length] as string;
    outcomes.push(
      await cache.get(key).then(
        () => "ok",
        (error: unknown) => (isInfrastructureError(error) ? error.code : "other"),
      ),
    );
  }
  return { chaos, outcomes, injected: describeInjections(chaos) };
}

function describeInjections(chaos: Chaos) {
  return chaos.injections.map(({ rule, operation, key, latencyMs, error }) => ({
    rule,
    operation,
    key,
    latencyMs,
    code: error?.code,
  }));
}

const RULES: ChaosRule[] = [
  { name: "flaky", rate: 0.3, error: "UNAVAILABLE" },
  { name: "slow", rate: 0.2, latencyMs: [0, 2] },
];

describe("seeded and reproducible", () => {
  it("gives the same faults for the same seed and calls, and other faults for another seed", async () => {
    const first = await run({ seed: 42, rules: RULES }, 200);
    const again = await run({ seed: 42, rules: RULES }, 200);
    const other = await run({ seed: 43, rules: RULES }, 200);
    expect(again.outcomes).toEqual(first.outcomes);
    expect(again.injected).toEqual(first.injected);
    expect(other.outcomes).not.toEqual(first.outcomes);
    expect(first.chaos.seed).toBe(42);
  });

  it("takes a string seed, and tells a random seed to replay it", async () => {
    expect((await run({ seed: "nightly", rules: RULES }, 100)).outcomes).toEqual(
      (await run({ seed: "nightly", rules: RULES }, 100)).outcomes,
    );
    const random = await run({ rules: RULES }, 100);
    expect((await run({ seed: random.chaos.seed, rules: RULES }, 100)).outcomes).toEqual(random.outcomes);
  });

  it("fires at about its rate", async () => {
    const { outcomes } = await run({ seed: 1, rules: [{ rate: 0.25, error: "UNAVAILABLE" }] }, 2_000);
    const failed = outcomes.filter((outcome) => outcome === "UNAVAILABLE").length;
    expect(failed).toBeGreaterThan(400);
    expect(failed).toBeLessThan(600);
  });

  it("keeps each rule's sequence independent of traffic the rule does not match", async () => {
    const rules: ChaosRule[] = [{ name: "gets", operations: "get", rate: 0.5, error: "UNAVAILABLE" }];
    const alone = await run({ seed: 9, rules }, 100);
    const chaos = createChaos({ seed: 9, rules });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    const outcomes: string[] = [];
    for (let i = 0; i < 100; i++) {
      await cache.set("x", i);
      outcomes.push(
        await cache.get(["a", "b", "c"][i % 3] as string).then(
          () => "ok",
          () => "UNAVAILABLE",
        ),
      );
    }
    expect(outcomes).toEqual(alone.outcomes);
  });

  it("reset starts every sequence, schedule and count over", async () => {
    const chaos = createChaos({ seed: 5, rules: [{ rate: 0.5, error: "UNAVAILABLE", times: 20 }] });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    const pass = async () => {
      const outcomes: boolean[] = [];
      for (let i = 0; i < 60; i++)
        outcomes.push(
          await cache.get("k").then(
            () => true,
            () => false,
          ),
        );
      return outcomes;
    };
    const first = await pass();
    expect(chaos.injectedCount).toBe(20);
    chaos.reset();
    expect(chaos.injectedCount).toBe(0);
    expect(await pass()).toEqual(first);
  });

  it("injects nothing while disabled", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ error: "UNAVAILABLE" }] });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    chaos.enabled = false;
    expect(await cache.get("k")).toBeUndefined();
    chaos.enabled = true;
    await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(chaos.injectedCount).toBe(1);
  });
});

describe("matching", () => {
  it("by port and operation", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ ports: "objectStorage", operations: ["put"], error: "UNAVAILABLE" }],
    });
    const storage = withChaosObjectStorage(createMemoryObjectStorage(), chaos);
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    await expectErrorCode(storage.put("k", "v"), "UNAVAILABLE");
    expect(await storage.exists("k")).toBe(false);
    await cache.set("k", "v");
    expect(chaos.injections.map((injection) => `${injection.port}.${injection.operation}`)).toEqual([
      "objectStorage.put",
    ]);
  });

  it("by key: a glob, a RegExp or a predicate; a rule with keys never matches a call without one", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [
        { name: "glob", operations: "get", keys: "reports/*.xlsx", error: "NOT_FOUND" },
        { name: "regexp", operations: "get", keys: /^tmp\/\d+$/g, error: "PERMISSION_DENIED" },
        { name: "predicate", operations: "get", keys: (key) => key.length > 20, error: "RESOURCE_EXHAUSTED" },
        { name: "keyless", operations: "stats", keys: "*", error: "INTERNAL" },
      ],
    });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    await expectErrorCode(cache.get("reports/2024/q1.xlsx"), "NOT_FOUND");
    expect(await cache.get("reports/q1.csv")).toBeUndefined();
    await expectErrorCode(cache.get("tmp/123"), "PERMISSION_DENIED");
    await expectErrorCode(cache.get("tmp/123"), "PERMISSION_DENIED");
    expect(await cache.get("tmp/abc")).toBeUndefined();
    await expectErrorCode(cache.get("a-key-longer-than-twenty"), "RESOURCE_EXHAUSTED");
    expect((await cache.stats()).hits).toBe(0);
    expect(chaos.injections.map((injection) => [injection.rule, injection.key])).toEqual([
      ["glob", "reports/2024/q1.xlsx"],
      ["regexp", "tmp/123"],
      ["regexp", "tmp/123"],
      ["predicate", "a-key-longer-than-twenty"],
    ]);
  });

  it("matches any of a call's keys (copy, deleteMany)", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ keys: "locked/*", error: "PERMISSION_DENIED" }] });
    const inner = createMemoryObjectStorage();
    await inner.put("open/a", "a");
    const storage = withChaosObjectStorage(inner, chaos);
    await expectErrorCode(storage.copy("open/a", "locked/a"), "PERMISSION_DENIED");
    await expectErrorCode(storage.deleteMany(["open/a", "locked/b"]), "PERMISSION_DENIED");
    await storage.deleteMany(["open/a"]);
    expect(chaos.injections.map((injection) => injection.key)).toEqual(["locked/a", "locked/b"]);
  });

  it("fires at most `times` times", async () => {
    const { outcomes } = await run({ seed: 1, rules: [{ error: "UNAVAILABLE", times: 2 }] }, 5);
    expect(outcomes).toEqual(["UNAVAILABLE", "UNAVAILABLE", "ok", "ok", "ok"]);
  });
});

describe("schedule", () => {
  /** A clock the test moves by hand. */
  function clock() {
    let now = 1_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  }

  it("fails every put for 5 s, then lets them through", async () => {
    const time = clock();
    const chaos = createChaos({
      seed: 1,
      now: time.now,
      rules: [{ operations: "put", error: "UNAVAILABLE", schedule: { forMs: 5_000 } }],
    });
    const storage = withChaosObjectStorage(createMemoryObjectStorage(), chaos);
    await expectErrorCode(storage.put("k", "v"), "UNAVAILABLE");
    time.advance(4_999);
    await expectErrorCode(storage.put("k", "v"), "UNAVAILABLE");
    time.advance(1);
    expect((await storage.put("k", "v")).size).toBe(1);
    expect(chaos.injections.map((injection) => injection.at)).toEqual([0, 4_999]);
  });

  it("starts after a delay, and repeats a window", async () => {
    const time = clock();
    const chaos = createChaos({
      seed: 1,
      now: time.now,
      rules: [{ error: "UNAVAILABLE", schedule: { afterMs: 1_000, forMs: 100, everyMs: 1_000 } }],
    });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    const at = async (elapsed: number) => {
      time.advance(elapsed - chaos.elapsed());
      return cache.get("k").then(
        () => "ok",
        () => "down",
      );
    };
    const seen = [];
    for (const elapsed of [0, 999, 1_000, 1_099, 1_100, 1_999, 2_000, 2_050, 2_100, 5_010])
      seen.push(await at(elapsed));
    expect(seen).toEqual(["ok", "ok", "down", "down", "ok", "ok", "down", "down", "ok", "down"]);
  });
});

describe("what is injected", () => {
  it("real taxonomy errors, marked as injected, with the taxonomy's retryable default or the rule's", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [
        { name: "down", operations: "get", error: "UNAVAILABLE" },
        {
          name: "denied",
          operations: "has",
          error: { code: "UNAVAILABLE", retryable: false, message: "custom" },
        },
        { name: "lost", operations: "set", error: { code: "TIMEOUT", outcome: "unknown" } },
      ],
    });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    const down = await expectErrorCode(cache.get("k"), "UNAVAILABLE");
    expect(down.retryable).toBe(true);
    expect(down.details).toEqual({ injected: true, rule: "down", port: "cache", operation: "get" });
    const custom = await expectErrorCode(cache.has("k"), "UNAVAILABLE");
    expect(custom.retryable).toBe(false);
    expect(custom.message).toBe("custom");
    const lost = await expectErrorCode(cache.set("k", 1), "TIMEOUT");
    expect(isOutcomeUnknown(lost)).toBe(true);
    expect(lost.retryable).toBe(false);
    expect(lost.details.injected).toBe(true);
  });

  it("UNAUTHENTICATED as an UnauthenticatedError with a reason, never recording the token", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ error: { code: "UNAUTHENTICATED", reason: "expired" } }],
    });
    const { issuer, decoder } = createMemoryTokenAuthority();
    const tokens = withChaosTokenDecoder(decoder, chaos);
    const token = await issuer.issue({ subject: "u" });
    const error = await tokens.decode(token).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe("expired");
    expect(JSON.stringify(chaos.injections)).not.toContain(token.slice(0, 20));
  });

  it("latency that delays the call, and that the call's signal cuts short", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ operations: "get", latencyMs: [60, 80] }] });
    const cache = withChaosCache(createMemoryCache<unknown>({ maxEntries: 10 }), chaos);
    const started = performance.now();
    expect(await cache.get("k")).toBeUndefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(59);
    const latency = chaos.injections[0]?.latencyMs ?? 0;
    expect(latency).toBeGreaterThanOrEqual(60);
    expect(latency).toBeLessThanOrEqual(80);
    await expectErrorCode(cache.get("k", { signal: AbortSignal.timeout(10) }), "TIMEOUT");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    await expectErrorCode(cache.get("k", { signal: controller.signal }), "CANCELLED");
    expect(chaos.injections.map((injection) => injection.cancelled)).toEqual([false, true, true]);
  });

  it("an error after the call: the work is done, the answer lost", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "insertOne", error: "UNAVAILABLE", phase: "after" }],
    });
    const inner = createMemoryDocumentDatabase();
    const db = withChaosDocumentDatabase(inner, chaos);
    await expectErrorCode(db.collection("orders").insertOne({ id: "o1", total: 3 }), "UNAVAILABLE");
    expect(await inner.collection("orders").findById("o1")).toEqual({ id: "o1", total: 3 });
  });

  it("an error after a get fails its body once every byte is delivered", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [{ operations: "get", error: "UNAVAILABLE", phase: "after" }],
    });
    const inner = createMemoryObjectStorage();
    await inner.put("k", "0123456789");
    const { info, body } = await withChaosObjectStorage(inner, chaos).get("k");
    expect(info.size).toBe(10);
    const chunks: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of body) chunks.push(chunk);
    })().catch((caught: unknown) => caught);
    expect(isInfrastructureError(error, "UNAVAILABLE")).toBe(true);
    expect(Buffer.concat(chunks).toString()).toBe("0123456789");
  });
});

describe("every port", () => {
  const engine = new PGlite("memory://");
  beforeAll(() => engine.waitReady, 120_000);
  afterAll(() => engine.close());

  it("SqlDatabase: statements by their text, a stream before its first row or after its last, transactions too", async () => {
    const inner = createPgliteDatabase({ pglite: engine, schema: uniqueName("chaos") });
    try {
      await inner.execute(sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`);
      await inner.insertMany("items", ["id"], [[1], [2], [3]]);
      const chaos = createChaos({
        seed: 1,
        rules: [
          { name: "deletes", operations: "execute", keys: "DELETE *", error: "PERMISSION_DENIED" },
          { name: "stream", operations: "stream", error: "UNAVAILABLE", phase: "after", times: 1 },
          { name: "begin", operations: "transaction", error: "UNAVAILABLE", times: 1 },
        ],
      });
      const db = withChaosSqlDatabase(inner, chaos);
      await expectErrorCode(db.execute(sql`DELETE FROM items`), "PERMISSION_DENIED");
      expect((await db.execute(sql`UPDATE items SET id = id`)).affectedRows).toBe(3);
      const ids: number[] = [];
      const streamed = await (async () => {
        for await (const row of db.stream<{ id: number }>(sql`SELECT id FROM items ORDER BY id`))
          ids.push(row.id);
      })().catch((caught: unknown) => caught);
      expect(isInfrastructureError(streamed, "UNAVAILABLE")).toBe(true);
      expect(ids).toEqual([1, 2, 3]);
      await expectErrorCode(
        db.transaction(async () => 1),
        "UNAVAILABLE",
      );
      await expectErrorCode(
        db.transaction((tx) => tx.execute(sql`DELETE FROM items WHERE id = ${1}`)),
        "PERMISSION_DENIED",
      );
      expect(await inner.query(sql`SELECT id FROM items ORDER BY id`)).toEqual([
        { id: 1 },
        { id: 2 },
        { id: 3 },
      ]);
      expect(chaos.injections.map((injection) => injection.rule)).toEqual([
        "deletes",
        "stream",
        "begin",
        "deletes",
      ]);
    } finally {
      await inner.close();
    }
  });

  it("DocumentDatabase: by collection, inside transactions too", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ keys: "audit", error: "UNAVAILABLE" }] });
    const db = withChaosDocumentDatabase(createMemoryDocumentDatabase(), chaos);
    await db.collection("orders").insertOne({ id: "o" });
    await expectErrorCode(db.collection("audit").insertOne({ id: "a" }), "UNAVAILABLE");
    await expectErrorCode(
      db.transaction((tx) => tx.collection("audit").count()),
      "UNAVAILABLE",
    );
    expect(await db.collection("orders").count()).toBe(1);
  });

  it("TenantRepository: by id or slug", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ keys: "blocked-*", error: "UNAVAILABLE" }] });
    const tenants = withChaosTenantRepository(createMemoryTenantRepository(), chaos);
    await expectErrorCode(tenants.create({ slug: "blocked-one", name: "B", plan: "free" }), "UNAVAILABLE");
    const open = await tenants.create({ slug: "open-one", name: "O", plan: "free" });
    expect((await tenants.getById(open.id)).slug).toBe("open-one");
    await expectErrorCode(tenants.getBySlug("blocked-two"), "UNAVAILABLE");
  });

  it("LocalFileManager: by path, a read stream after its last byte", async () => {
    const root = await fs.mkdtemp(join(tmpdir(), "chaos-files-"));
    try {
      const chaos = createChaos({
        seed: 1,
        rules: [
          { operations: "write", keys: "full/*", error: "RESOURCE_EXHAUSTED" },
          { operations: "createReadStream", error: "UNAVAILABLE", phase: "after" },
        ],
      });
      const files = withChaosLocalFileManager(createLocalFileManager({ root }), chaos);
      await expectErrorCode(files.write("full/a.txt", "x"), "RESOURCE_EXHAUSTED");
      await files.write("ok/a.txt", "hello");
      const stream = await files.createReadStream("ok/a.txt");
      const error = await collectBytes(stream).catch((caught: unknown) => caught);
      expect(isInfrastructureError(error, "UNAVAILABLE")).toBe(true);
      expect(await files.exists("full/a.txt")).toBe(false);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("ReportGenerator: by first sheet name, destroying the output", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ keys: "Secret*", error: "PERMISSION_DENIED" }] });
    const reports = withChaosReportGenerator(createOpenReportGenerator(), chaos);
    const output = new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const definition = {
      sheets: [
        { name: "Secrets", columns: [{ header: "N", key: "n", type: "integer" as const }], rows: [{ n: 1 }] },
      ],
    };
    await expectErrorCode(reports.generate(definition, output, { format: "csv" }), "PERMISSION_DENIED");
    expect(output.destroyed).toBe(true);
  });
});

describe("Cache.setMany", () => {
  it("is offered exactly when the wrapped cache offers it", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ error: "UNAVAILABLE", rate: 0 }] });
    const inner = createMemoryCache<unknown>({ maxEntries: 10 });
    const batched = withChaosCache(inner, chaos);
    const single = withChaosCache(withoutBatchWrites(inner), chaos);
    expect(typeof batched.setMany).toBe("function");
    expect(batched.capabilities.batchWrites).toBe(true);
    expect("setMany" in single).toBe(false);
    expect(single.capabilities.batchWrites).toBe(false);
    await inner.close();
  });

  it("has a fault site of its own, keyed by every entry's key; after the writes in the after phase", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [
        { name: "sets", operations: "set", error: "INTERNAL" },
        { name: "reports", operations: "setMany", keys: "report:*", error: "UNAVAILABLE", times: 1 },
        {
          name: "lost",
          operations: "setMany",
          error: { code: "TIMEOUT", outcome: "unknown" },
          phase: "after",
        },
      ],
    });
    const inner = createMemoryCache<unknown>({ maxEntries: 10 });
    const cache = withChaosCache(inner, chaos);
    const setMany = cache.setMany as NonNullable<typeof cache.setMany>;
    const entries = [
      { key: "user:1", value: 1 },
      { key: "report:2", value: 2 },
    ];
    const refused = await expectErrorCode(setMany(entries), "UNAVAILABLE");
    expect(refused.details).toEqual({ injected: true, rule: "reports", port: "cache", operation: "setMany" });
    expect(await inner.has("user:1"), "a fault before the call writes nothing").toBe(false);
    const lost = await expectErrorCode(setMany(entries), "TIMEOUT");
    expect(isOutcomeUnknown(lost)).toBe(true);
    expect(await inner.get("user:1")).toBe(1);
    expect(await inner.get("report:2")).toBe(2);
    // Both rules fired on the first call (its "before" error won); the set rule never did.
    expect(chaos.injections.map(({ rule, key }) => `${rule} ${key}`)).toEqual([
      "reports report:2",
      "lost user:1",
      "lost user:1",
    ]);
    await inner.close();
  });
});

describe("Cache member sets", () => {
  it("are offered exactly when the wrapped cache offers them", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ error: "UNAVAILABLE", rate: 0 }] });
    const inner = createMemoryCache<unknown>({ maxEntries: 10 });
    const withSets = withChaosCache(inner, chaos);
    const without = withChaosCache(withoutMemberSets(inner), chaos);
    expect(typeof withSets.addMembers).toBe("function");
    expect(typeof withSets.hasMember).toBe("function");
    expect(withSets.capabilities.memberSets).toBe(true);
    expect("addMembers" in without).toBe(false);
    expect("hasMember" in without).toBe(false);
    expect(without.capabilities.memberSets).toBe(false);
    expect(typeof without.setMany, "setMany still passes through").toBe("function");
    await inner.close();
  });

  it("pass through: members added and found, TTL and options given to the adapter", async () => {
    const chaos = createChaos({ seed: 1, rules: [{ error: "UNAVAILABLE", rate: 0 }] });
    const inner = createMemoryCache<unknown>({ maxEntries: 10 });
    const cache = withChaosCache(inner, chaos);
    const addMembers = cache.addMembers as NonNullable<typeof cache.addMembers>;
    const hasMember = cache.hasMember as NonNullable<typeof cache.hasMember>;
    await addMembers("seen", ["a", "b", "a"], { ttlMs: 60_000 });
    expect(await hasMember("seen", "a")).toBe(true);
    expect(await hasMember("seen", "c")).toBe(false);
    await addMembers("brief", ["x"], { ttlMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(await inner.hasMember?.("brief", "x"), "the adapter got the ttlMs").toBe(false);
    await expectErrorCode(addMembers("seen", [""]), "INVALID_ARGUMENT");
    await expectErrorCode(hasMember("seen", "a", { signal: AbortSignal.abort() }), "CANCELLED");
    expect(chaos.injectedCount).toBe(0);
    await inner.close();
  });

  it("have fault sites of their own, keyed by the set's key; addMembers' after phase comes after the add", async () => {
    const chaos = createChaos({
      seed: 1,
      rules: [
        { name: "sets", operations: ["set", "has", "setMany"], error: "INTERNAL" },
        { name: "visits", operations: "addMembers", keys: "visits:*", error: "UNAVAILABLE", times: 1 },
        {
          name: "lost",
          operations: "addMembers",
          error: { code: "TIMEOUT", outcome: "unknown" },
          phase: "after",
        },
        { name: "asks", operations: "hasMember", keys: "visits:*", error: "UNAVAILABLE" },
      ],
    });
    const inner = createMemoryCache<unknown>({ maxEntries: 10 });
    const cache = withChaosCache(inner, chaos);
    const addMembers = cache.addMembers as NonNullable<typeof cache.addMembers>;
    const hasMember = cache.hasMember as NonNullable<typeof cache.hasMember>;
    const refused = await expectErrorCode(addMembers("visits:1", ["u1", "u2"]), "UNAVAILABLE");
    expect(refused.details).toEqual({
      injected: true,
      rule: "visits",
      port: "cache",
      operation: "addMembers",
    });
    expect(await inner.hasMember?.("visits:1", "u1"), "a fault before the call adds nothing").toBe(false);
    const lost = await expectErrorCode(addMembers("visits:1", ["u1", "u2"]), "TIMEOUT");
    expect(isOutcomeUnknown(lost)).toBe(true);
    expect(await inner.hasMember?.("visits:1", "u1")).toBe(true);
    expect(await inner.hasMember?.("visits:1", "u2")).toBe(true);
    const asked = await expectErrorCode(hasMember("visits:1", "u1"), "UNAVAILABLE");
    expect(asked.details).toMatchObject({ rule: "asks", operation: "hasMember" });
    expect(await hasMember("other", "u1"), "a key the rule does not match passes").toBe(false);
    // Both addMembers rules fired on the first call (its "before" error won); the rules on set,
    // has and setMany never did.
    expect(chaos.injections.map(({ rule, key }) => `${rule} ${key}`)).toEqual([
      "visits visits:1",
      "lost visits:1",
      "lost visits:1",
      "asks visits:1",
    ]);
    await inner.close();
  });
});

describe("JobQueue", () => {
  it("a fault before a delivery fails the attempt without running the handler; the queue delivers it again", async () => {
    const inner = createMemoryJobQueue();
    try {
      const chaos = createChaos({
        seed: 1,
        rules: [{ operations: "handle", error: "UNAVAILABLE", times: 1 }],
      });
      const jobs = withChaosJobQueue(inner, chaos);
      const ran: number[] = [];
      const worker = jobs.work(
        "mail",
        async (job) => {
          ran.push(job.attempt);
        },
        { backoff: { initialMs: 10, maxMs: 20 } },
      );
      await jobs.enqueue("mail", { to: "a" });
      await expect.poll(() => ran).toEqual([2]);
      expect(chaos.injections.map((injection) => [injection.operation, injection.key])).toEqual([
        ["handle", "mail"],
      ]);
      await worker.close();
    } finally {
      await inner.close();
    }
  });

  it("a fault after a delivery runs the handler, then fails the attempt: the handler runs twice", async () => {
    const inner = createMemoryJobQueue();
    try {
      const chaos = createChaos({
        seed: 1,
        rules: [{ operations: "handle", error: "UNAVAILABLE", phase: "after", times: 1 }],
      });
      const jobs = withChaosJobQueue(inner, chaos);
      const ran: number[] = [];
      const worker = jobs.work(
        "mail",
        async (job) => {
          ran.push(job.attempt);
        },
        { backoff: { initialMs: 10, maxMs: 20 } },
      );
      await jobs.enqueue("mail", { to: "a" });
      await expect.poll(() => ran).toEqual([1, 2]);
      await worker.close();
    } finally {
      await inner.close();
    }
  });

  it("faults on enqueue by queue name", async () => {
    const inner = createMemoryJobQueue();
    try {
      const chaos = createChaos({
        seed: 1,
        rules: [{ operations: "enqueue", keys: "reports", error: "UNAVAILABLE" }],
      });
      const jobs = withChaosJobQueue(inner, chaos);
      await expectErrorCode(jobs.enqueue("reports", {}), "UNAVAILABLE");
      expect((await jobs.enqueue("mail", {})).duplicate).toBe(false);
    } finally {
      await inner.close();
    }
  });
});

describe("options", () => {
  it.each([
    ["an unknown field (a typo)", { rules: [{ operation: "put", error: "UNAVAILABLE" }] }],
    ["an operation no port has", { rules: [{ operations: "upload", error: "UNAVAILABLE" }] }],
    [
      "an operation the named port lacks",
      { rules: [{ ports: "cache", operations: "put", error: "UNAVAILABLE" }] },
    ],
    ["an unknown port", { rules: [{ ports: "queue", error: "UNAVAILABLE" }] }],
    ["a rate over 1", { rules: [{ rate: 1.5, error: "UNAVAILABLE" }] }],
    ["a rule that injects nothing", { rules: [{ operations: "get" }] }],
    ["an unknown code", { rules: [{ error: "BROKEN" }] }],
    [
      "an unknown outcome on a code without one",
      { rules: [{ error: { code: "NOT_FOUND", outcome: "unknown" } }] },
    ],
    ["a latency range upside down", { rules: [{ latencyMs: [10, 5] }] }],
    [
      "a repeating window without a length",
      { rules: [{ error: "UNAVAILABLE", schedule: { everyMs: 100 } }] },
    ],
    ["zero times", { rules: [{ error: "UNAVAILABLE", times: 0 }] }],
    ["no rules", {}],
  ])("refuses %s with INVALID_ARGUMENT", async (_name, options) => {
    await expectErrorCode(() => createChaos(options as ChaosOptions), "INVALID_ARGUMENT");
  });
});
