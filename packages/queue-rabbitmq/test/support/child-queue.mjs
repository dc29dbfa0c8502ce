// The jobs contract's child process (its SIGKILL test) builds its queue here: the package as
// published (its dist, imported by name) on the same RabbitMQ and the same state namespace as the
// test process, which passes the namespace in QUEUE_RABBITMQ_TEST_STATE.
import { createRedisCache } from "@proj/cache-redis";
import { createRabbitMqJobQueue } from "@proj/queue-rabbitmq";

export async function createJobQueue() {
  const namespace = process.env.QUEUE_RABBITMQ_TEST_STATE;
  if (!namespace) throw new Error("QUEUE_RABBITMQ_TEST_STATE is not set");
  const state = createRedisCache({ namespace, url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
  return createRabbitMqJobQueue({
    url: process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672",
    state,
    prefix: "jobs",
    // The contract's run without cancellation: every process sharing the queues agrees on it.
    cancellation: process.env.QUEUE_RABBITMQ_TEST_CANCELLATION !== "false",
  });
}
