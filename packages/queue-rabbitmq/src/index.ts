import { RabbitMqJobQueue, type RabbitMqJobQueueOptions } from "./rabbitmq-job-queue.js";

export { JOB_MESSAGE_TYPE, type JobMessage, jobMessageType } from "./job-message.js";
export {
  idempotencyKeyHash,
  MAX_WAIT_EXPONENT,
  MIN_WAIT_EXPONENT,
  QueueNames,
  WAIT_PERIODS_MS,
  waitPeriodMs,
} from "./names.js";
export {
  ANSWER_STANDS_MS,
  END_MARKS_EVERY_MS,
  RabbitMqJobQueue,
  type RabbitMqJobQueueOptions,
} from "./rabbitmq-job-queue.js";
export type { RabbitMqWorker } from "./worker.js";

/**
 * A `JobQueue` on RabbitMQ, shared by every process that uses the same broker, `prefix` and
 * `state`. Opens its connection on first use.
 */
export function createRabbitMqJobQueue(options: RabbitMqJobQueueOptions): RabbitMqJobQueue {
  return new RabbitMqJobQueue(options);
}
