import { createRedisCache, type RedisCache } from "@proj/cache-redis";
import { uniqueName } from "@proj/contract-tests";
import type { JobQueue } from "@proj/ports";
import amqp from "amqplib";
import {
  createRabbitMqJobQueue,
  idempotencyKeyHash,
  QueueNames,
  type RabbitMqJobQueue,
  type RabbitMqJobQueueOptions,
} from "../../src/index.js";

export const AMQP_URL = process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const PREFIX = "jobs";

/**
 * The adapters of one test file: each `create()` is another "process" on the same RabbitMQ and
 * the same state namespace (its own Redis connection, as another process would have). Records the
 * idempotency keys used per queue, so `dropQueue` can delete their claim queues too.
 */
export class QueueFixture {
  readonly namespace = uniqueName("jobs_state");
  readonly #caches = new Map<JobQueue, RedisCache>();
  readonly #keys = new Map<string, Set<string>>();
  readonly names = new QueueNames(PREFIX);

  async create(options: Partial<RabbitMqJobQueueOptions> = {}): Promise<RabbitMqJobQueue> {
    const state = createRedisCache({ namespace: this.namespace, url: REDIS_URL });
    const queue = createRabbitMqJobQueue({
      url: AMQP_URL,
      state,
      prefix: PREFIX,
      onError: process.env.QUEUE_RABBITMQ_DEBUG ? (e) => console.log("onError", e.message) : undefined,
      ...options,
    });
    this.#caches.set(queue, state);
    return this.#recording(queue);
  }

  async destroy(queue: JobQueue): Promise<void> {
    await queue.close();
    const state = this.#caches.get(queue);
    this.#caches.delete(queue);
    await state?.close();
  }

  /** Deletes every RabbitMQ queue `queue` used (key claims included) and its state entries. */
  async dropQueue(queue: string): Promise<void> {
    const names = [
      ...this.names.all(queue),
      ...[...(this.#keys.get(queue) ?? [])].map((key) => this.names.claim(queue, idempotencyKeyHash(key))),
    ];
    await deleteQueues(names);
    const state = createRedisCache({ namespace: this.namespace, url: REDIS_URL });
    try {
      for (const kind of ["end", "dead", "key"]) await state.deletePrefix(`${PREFIX}:${kind}:${queue}.`);
    } finally {
      await state.close();
    }
  }

  /** Removes the state namespace (after the file's tests). */
  async clear(): Promise<void> {
    const state = createRedisCache({ namespace: this.namespace, url: REDIS_URL });
    try {
      await state.clear();
    } finally {
      await state.close();
    }
  }

  #recording(queue: RabbitMqJobQueue): RabbitMqJobQueue {
    const keys = this.#keys;
    const enqueue = queue.enqueue.bind(queue);
    // Only `enqueue` is wrapped (own property); everything else is the adapter's own.
    Object.defineProperty(queue, "enqueue", {
      value: (name: string, payload: never, options?: { idempotencyKey?: string }) => {
        if (typeof options?.idempotencyKey === "string" && typeof name === "string") {
          const set = keys.get(name) ?? new Set<string>();
          set.add(options.idempotencyKey);
          keys.set(name, set);
        }
        return enqueue(name, payload, options as never);
      },
    });
    return queue;
  }
}

/** Deletes RabbitMQ queues by name over a connection of its own (missing ones are fine). */
export async function deleteQueues(names: readonly string[]): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  connection.on("error", () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on("error", () => undefined);
    for (const name of names) await channel.deleteQueue(name);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Messages ready in a RabbitMQ queue (0 when it does not exist). */
export async function readyCount(name: string): Promise<number> {
  const connection = await amqp.connect(AMQP_URL);
  connection.on("error", () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on("error", () => undefined);
    try {
      return (await channel.checkQueue(name)).messageCount;
    } catch {
      return 0;
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}
