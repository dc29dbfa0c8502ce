// The jobs contract's SIGKILL test runs this in a child process: the built package, by its name.
import { createRedisJobQueue } from "@proj/queue-redis";

export async function createJobQueue() {
  return createRedisJobQueue({
    namespace: "proj-test-jobs",
    url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  });
}
