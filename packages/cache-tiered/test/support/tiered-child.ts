/**
 * A child process of the multi-process suite (bundled from source by `children.ts`). It opens a
 * tiered cache (memory L1, Redis L2, Redis bus and lock) on the namespace the parent names and runs
 * the parent's commands over IPC: read loops that record stale reads and invalidation delays, a
 * writer's sequence of sets and deletes, and a stampede of concurrent misses.
 */
import { createMemoryCache } from "@proj/cache-memory";
import { createRedisCache } from "@proj/cache-redis";
import {
  createRedisInvalidationBus,
  createRedisLoaderLock,
  createTieredCache,
  type TieredCache,
  type TieredCacheEvent,
} from "../../src/index.js";

type Command =
  | { cmd: "open"; namespace: string; url: string; noLock?: boolean }
  | { cmd: "read"; keys: string[]; ops: number; doneAfterMs: number }
  | { cmd: "stop-reading" }
  | { cmd: "write"; keys: string[]; ops: number; pauseMs: number }
  | { cmd: "final"; keys: string[] }
  | { cmd: "stampede"; keys: string[]; perKey: number; loaderMs: number; startAt: number }
  | { cmd: "close" };

/** The state after op `i` of the writer: a set of `{ n: i }`, or a delete every fifth op. */
const isDelete = (op: number) => op % 5 === 0;

let cache: TieredCache<{ n: number } | string> | undefined;
/** Invalidation messages applied per key, in order: message i is the writer's op i. */
const delivered = new Map<string, number>();
const delays: number[] = [];
let reading = false;

const send = (message: Record<string, unknown>) =>
  new Promise<void>((resolve) =>
    process.send ? process.send(message, undefined, {}, () => resolve()) : resolve(),
  );

function onEvent(event: TieredCacheEvent): void {
  if (event.type !== "invalidated") return;
  delays.push(event.delayMs);
  if (event.invalidation.kind === "keys") {
    for (const key of event.invalidation.keys) delivered.set(key, (delivered.get(key) ?? 0) + 1);
  }
}

async function open(command: Extract<Command, { cmd: "open" }>) {
  const { namespace, url } = command;
  await cache?.close();
  delivered.clear();
  cache = createTieredCache<{ n: number } | string>({
    l1: createMemoryCache({ maxEntries: 10_000 }),
    l2: createRedisCache({ namespace, url }),
    bus: createRedisInvalidationBus({ channel: namespace, url }),
    lock: command.noLock ? undefined : createRedisLoaderLock({ namespace, url }),
    onEvent,
  });
  const deadline = Date.now() + 15_000;
  while (!cache.health().l1Trusted) {
    if (Date.now() > deadline) throw new Error("the bus never subscribed");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Reads the keys round-robin until told to stop; checks each read against what the bus delivered. */
async function read(command: Extract<Command, { cmd: "read" }>) {
  const { keys, ops } = command;
  const stale: string[] = [];
  let reads = 0;
  reading = true;
  delays.length = 0;
  while (reading) {
    for (const key of keys) {
      const before = delivered.get(key) ?? 0;
      const value = await cache!.get(key);
      reads++;
      if (value === undefined) {
        // Valid when the key was never written yet, or a delete at or after the delivered op exists.
        let ok = before === 0;
        for (let op = Math.max(before, 1); !ok && op <= ops; op++) ok = isDelete(op);
        if (!ok) stale.push(`${key}: undefined after op ${before} was delivered`);
      } else if (typeof value === "object" && value.n < before) {
        stale.push(`${key}: op ${value.n} read after op ${before} was delivered`);
      }
    }
    // A request handler yields to I/O between requests; so does this loop, or no message could arrive.
    if (reads % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const messages = Object.fromEntries(delivered);
  await send({
    type: "read-done",
    reads,
    stale: stale.slice(0, 20),
    staleCount: stale.length,
    delays,
    messages,
  });
}

async function write(command: Extract<Command, { cmd: "write" }>) {
  const { keys, ops, pauseMs } = command;
  for (let op = 1; op <= ops; op++) {
    for (const key of keys) {
      if (isDelete(op)) await cache!.delete(key);
      else await cache!.set(key, { n: op });
    }
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  await send({ type: "write-done" });
}

async function stampede(command: Extract<Command, { cmd: "stampede" }>) {
  const { keys, perKey, loaderMs, startAt } = command;
  let loaderCalls = 0;
  const loader = async (key: string) => {
    loaderCalls++;
    await new Promise((resolve) => setTimeout(resolve, loaderMs));
    return `loaded ${key}`;
  };
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < perKey; i++) for (const key of keys) calls.push(cache!.getOrSet(key, loader));
  const values = await Promise.all(calls);
  const wrong = values.filter((value, index) => value !== `loaded ${keys[index % keys.length]}`).length;
  await send({ type: "stampede-done", loaderCalls, calls: calls.length, wrong });
}

process.on("disconnect", () => process.exit(0));
process.on("message", (command: Command) => {
  const run = async () => {
    switch (command.cmd) {
      case "open":
        await open(command);
        return send({ type: "opened" });
      case "read":
        return read(command);
      case "stop-reading":
        reading = false;
        return;
      case "write":
        return write(command);
      case "final": {
        const values = [];
        for (const key of command.keys) values.push(await cache!.get(key));
        return send({ type: "final", values });
      }
      case "stampede":
        return stampede(command);
      case "close":
        await cache?.close();
        await send({ type: "closed" });
        process.exit(0);
    }
  };
  run().catch((error: unknown) =>
    send({
      type: "failed",
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    }),
  );
});
void send({ type: "ready" });
