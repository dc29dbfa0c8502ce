import { NatsJobQueue, type NatsJobQueueOptions } from "./nats-job-queue.js";

export type { NatsJobQueue, NatsJobQueueOptions } from "./nats-job-queue.js";

/**
 * A `JobQueue` on NATS JetStream, shared by every process that opens the same namespace on the same
 * server. Connects in the background (calls wait for the connection within their deadline). The
 * returned object also has `deleteQueue` and the nats.js `connection` for what the port does not
 * cover.
 */
export function createNatsJobQueue(options: NatsJobQueueOptions = {}): NatsJobQueue {
  return new NatsJobQueue(options);
}
