import { Redis } from "ioredis";
import { createRedisJobQueue, type RedisJobQueue, type RedisJobQueueOptions } from "../../src/index.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** A port nothing listens on. */
export const UNREACHABLE_URL = "redis://127.0.0.1:1";
/**
 * The namespace of every test queue (the SIGKILLed child process opens it too): tests keep apart
 * by queue names from `uniqueName`, and drop their queues afterwards.
 */
export const TEST_NAMESPACE = "proj-test-jobs";

export function openQueue(options: RedisJobQueueOptions = {}): RedisJobQueue {
  return createRedisJobQueue({ namespace: TEST_NAMESPACE, url: REDIS_URL, ...options });
}

/** Removes every key of `queue` in `namespace` (BullMQ's and the adapter's), through a connection of its own. */
export async function dropQueue(queue: string, namespace = TEST_NAMESPACE): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${namespace}:${queue}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}
