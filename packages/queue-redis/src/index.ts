import { RedisJobQueue, type RedisJobQueueOptions } from "./redis-job-queue.js";

export type { RedisJobQueue, RedisJobQueueOptions } from "./redis-job-queue.js";

/**
 * A `JobQueue` on Redis with BullMQ: jobs are shared by every process that opens the same
 * namespace on the same Redis. The returned object also exposes `namespace` and the producer's
 * ioredis `client`.
 */
export function createRedisJobQueue(options: RedisJobQueueOptions = {}): RedisJobQueue {
  return new RedisJobQueue(options);
}
