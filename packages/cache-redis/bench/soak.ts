// Soak under faults: 32 callers run mixed reads and writes through a FaultProxy that cycles the
// faults of the fault suite, for a bounded time, on loopback only. Every write puts a value no
// other write uses, on keys each caller owns (a bounded set, so the ledger stays small); at the end
// the last write of every key is read on the server directly: none lost (acknowledged but absent),
// none present after a known failure, and every call settled within its deadline.
//   pnpm --filter @proj/cache-redis soak            (SOAK_SECONDS=120 to shorten; default 600)
// Needs the workspace built (`pnpm build`) for @proj/ports and @proj/contract-tests.
import { randomBytes } from "node:crypto";
import { cycleFaults, FaultProxy, SoakCalls, type SoakFault, type SoakOutcome } from "@proj/contract-tests";
import { createRedisCache, type RedisCache } from "../src/index.js";

const TARGET_URL = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CALLERS = Number(process.env.SOAK_CALLERS ?? 32);
const PHASE_MS = Number(process.env.SOAK_PHASE_MS ?? 3_000);
const COMMAND_TIMEOUT_MS = 1_000;
/** Keys each caller cycles through: its writes overwrite only its own keys, one at a time. */
const KEYS_PER_CALLER = 500;
/** Event-loop lag a loaded 2-core machine adds on top of a deadline before a timer runs. */
const LAG_MS = 1_000;
const CALL_BOUND = COMMAND_TIMEOUT_MS + LAG_MS;

if (!["127.0.0.1", "localhost", "[::1]"].includes(TARGET_URL.hostname)) {
  throw new Error("the soak runs on loopback only: point REDIS_URL at 127.0.0.1");
}
if (!(SECONDS > 0 && SECONDS <= 3_600)) throw new Error("SOAK_SECONDS must be between 1 and 3600");

const FAULTS: SoakFault[] = [
  { mode: "pass", latencyMs: 40 },
  { mode: "silent" },
  { mode: "lose-replies" },
  { mode: "cut-on-reply-close" },
  { mode: "cut-on-reply-reset" },
  { mode: "cut-mid-request", afterBytes: 9 },
  { mode: "cut-mid-response", afterBytes: 5 },
  { mode: "outage-reset" },
];

const namespace = `soak_${randomBytes(4).toString("hex")}`;
const proxy = await FaultProxy.start({
  target: { host: TARGET_URL.hostname.replace(/^\[|\]$/g, ""), port: Number(TARGET_URL.port || 6379) },
});
const cache: RedisCache<string> = createRedisCache<string>({
  namespace,
  url: `redis://${proxy.host}:${proxy.port}`,
  commandTimeoutMs: COMMAND_TIMEOUT_MS,
});
const server: RedisCache<string> = createRedisCache<string>({ namespace, url: TARGET_URL.href });

/** The last write attempted on each key: the value it wrote, and what the adapter said about it. */
const ledger = new Map<string, { value: string; outcome: SoakOutcome }>();
const calls = new SoakCalls();
let writes = 0;
let running = true;

async function caller(index: number): Promise<void> {
  while (running) {
    // While Redis is known to be unreachable the cache fails calls at once, without I/O: a caller
    // that retried in a tight loop of promises would starve every timer (the fault cycle's and the
    // client's reconnect). A real caller backs off; this one at least yields to the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    const dice = Math.random();
    const key = `w${index}:${Math.floor(Math.random() * KEYS_PER_CALLER)}`;
    if (dice < 0.4) {
      await calls.run(CALL_BOUND, () => cache.get(key));
    } else if (dice < 0.5) {
      await calls.run(CALL_BOUND, () => cache.has(key));
    } else if (dice < 0.9) {
      const value = `${index}:${randomBytes(8).toString("hex")}`;
      writes += 1;
      const { outcome } = await calls.run(CALL_BOUND, () => cache.set(key, value));
      // Redis applies a key's commands in the order they arrive, and a write that lost its answer
      // arrived (if at all) before its connection was replaced: the last write decides the value.
      ledger.set(key, { value, outcome });
    } else {
      // getOrSet is a read and, on a miss, a write: two bounded calls at most. Not in the ledger:
      // a cache may answer with the loaded value although storing it failed.
      const value = `${index}:${randomBytes(8).toString("hex")}`;
      await calls.run(2 * CALL_BOUND, () =>
        cache.getOrSet(`g${index}:${writes % KEYS_PER_CALLER}`, async () => value),
      );
    }
  }
}

function memory(): { rssMb: number; heapMb: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rssMb: Math.round(usage.rss / 2 ** 20), heapMb: Math.round(usage.heapUsed / 2 ** 20) };
}

try {
  await cache.set("warm", "up");
  const memoryBefore = memory();
  const started = Date.now();
  console.log(
    `soak: ${SECONDS} s, ${CALLERS} callers, commandTimeoutMs ${COMMAND_TIMEOUT_MS}, ` +
      `faults ${FAULTS.map((fault) => fault.mode).join(", ")} (${PHASE_MS} ms each, healthy ${PHASE_MS} ms between)`,
  );
  const callers = Array.from({ length: CALLERS }, (_, index) => caller(index));
  const cycles = await cycleFaults(proxy, FAULTS, PHASE_MS, started + SECONDS * 1_000);
  running = false;
  const drained = await Promise.race([
    Promise.all(callers).then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 4 * CALL_BOUND)),
  ]);

  // Healed, the cache serves again by itself (reconnect back-off is at most 2 s).
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const served = await Promise.all(
    Array.from({ length: 16 }, () => calls.run(CALL_BOUND, () => cache.get("warm"))),
  );
  const servedAfter = served.filter((call) => call.outcome === "ok").length;

  const check = { lost: 0, phantom: 0, unknownApplied: 0, unknownAbsent: 0 };
  for (const [key, { value, outcome }] of ledger) {
    const stored = await server.get(key);
    if (outcome === "ok" && stored !== value) check.lost += 1;
    if (outcome === "failed" && stored === value) check.phantom += 1;
    if (outcome === "unknown") {
      if (stored === value) check.unknownApplied += 1;
      else check.unknownAbsent += 1;
    }
  }
  const memoryAfter = memory();
  const ok = (value: number) => (value === 0 ? "ok" : "FAIL");
  console.log(`ran ${Math.round((Date.now() - started) / 1_000)} s, ${cycles} full fault cycles`);
  console.log(calls.summary(), ok(calls.late));
  console.log(
    `calls still pending at the end: ${drained ? 0 : calls.pending} ${ok(drained ? 0 : calls.pending)}`,
  );
  console.log(
    `writes attempted ${writes} (last write of ${ledger.size} keys checked): lost ${check.lost} ${ok(check.lost)}, ` +
      `present after a known failure ${check.phantom} ${ok(check.phantom)}; ` +
      `outcome unknown: ${check.unknownApplied} applied, ${check.unknownAbsent} not`,
  );
  console.log(
    `after healing: ${servedAfter} of ${served.length} calls at once served ${ok(served.length - servedAfter)}`,
  );
  console.log(`proxy sockets open at the end: ${proxy.openConnections}`);
  console.log(
    `memory: rss ${memoryBefore.rssMb} -> ${memoryAfter.rssMb} MB, heap ${memoryBefore.heapMb} -> ${memoryAfter.heapMb} MB`,
  );
  if (calls.late > 0 || !drained || servedAfter < served.length || check.lost > 0 || check.phantom > 0) {
    process.exitCode = 1;
  }
} finally {
  await cache.close();
  await proxy.close();
  await server.clear();
  await server.close();
}
