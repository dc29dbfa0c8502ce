import { jobQueueFaultContract } from "@proj/contract-tests";
import { dropQueue, openQueue, REDIS_URL } from "./support/redis.js";

const target = new URL(REDIS_URL);
const CALL_MS = 1_000;

jobQueueFaultContract("Redis (BullMQ)", {
  target: () => ({ host: target.hostname, port: Number(target.port || 6379) }),
  create: async (endpoint) =>
    openQueue({ url: `redis://${endpoint.host}:${endpoint.port}`, timeoutMs: CALL_MS }),
  dropQueue,
  // Reconnects back off to 2 s at most; a worker's blocking fetch is re-sent on the new connection.
  deadlines: { callMs: CALL_MS, recoverMs: 2_000 + 2 * CALL_MS, closeMs: 4 * CALL_MS },
  // BullMQ's stalled-job check runs every 500 ms (at most about 1 s apart across workers).
  resolutionMs: 1_000,
});
