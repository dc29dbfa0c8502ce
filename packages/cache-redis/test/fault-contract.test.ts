import { cacheFaultContract } from "@proj/contract-tests";
import type { Cache } from "@proj/ports";
import { createRedisCache, type RedisCache } from "../src/index.js";
import { destroyCache, openCache, REDIS_URL } from "./support/redis.js";

const target = new URL(REDIS_URL);
const COMMAND_TIMEOUT_MS = 1_000;
const asRedis = (cache: Cache<unknown>) => cache as RedisCache<unknown>;

cacheFaultContract("Redis (ioredis)", {
  target: () => ({ host: target.hostname, port: Number(target.port || 6379) }),
  create: async (via) =>
    openCache({ url: `redis://${via.host}:${via.port}`, commandTimeoutMs: COMMAND_TIMEOUT_MS }),
  direct: async (cache) => createRedisCache({ namespace: asRedis(cache).namespace, url: REDIS_URL }),
  destroy: (cache) => destroyCache(asRedis(cache)),
  // A key call waits at most commandTimeoutMs; reconnects back off to 2 s at most.
  deadlines: { callMs: COMMAND_TIMEOUT_MS, recoverMs: 2_000 + 2 * COMMAND_TIMEOUT_MS },
});
