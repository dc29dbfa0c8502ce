import type { JobQueue } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { withSignal } from "../shared.js";

/**
 * A `JobQueue` whose calls go through `policy` (or a policy made from these options).
 *
 * Retried: `enqueue` with an `idempotencyKey` (the queue drops the duplicate), `cancel`, `redrive`
 * and `listDeadLetters`. Never retried: `enqueue` without an `idempotencyKey` (a second attempt
 * would enqueue a second job). `work` is the adapter's own: the queue retries failed handlers
 * itself, with its back-off and dead letters, so the policy wraps no handler.
 */
export function withResilienceJobQueue(
  queue: JobQueue,
  policy: ResiliencePolicy | ResilienceOptions = {},
): JobQueue {
  const p = policyOf(policy);
  const op = (name: string, idempotent: boolean) => p.operation("jobs", name, { idempotent });
  const enqueueKeyed = op("enqueue", true);
  const enqueueOnce = op("enqueue", false);
  const cancel = op("cancel", true);
  const listDeadLetters = op("listDeadLetters", true);
  const redrive = op("redrive", true);
  return {
    get capabilities() {
      return queue.capabilities;
    },
    enqueue: (name, payload, options) =>
      p.run(options?.idempotencyKey === undefined ? enqueueOnce : enqueueKeyed, options?.signal, (signal) =>
        queue.enqueue(name, payload, withSignal(options, signal)),
      ),
    work: (name, handler, options) => queue.work(name, handler, options),
    cancel: (id, options) =>
      p.run(cancel, options?.signal, (signal) => queue.cancel(id, withSignal(options, signal))),
    listDeadLetters: (name, options) =>
      p.run(listDeadLetters, options?.signal, (signal) =>
        queue.listDeadLetters(name, withSignal(options, signal)),
      ),
    redrive: (id, options) =>
      p.run(redrive, options?.signal, (signal) => queue.redrive(id, withSignal(options, signal))),
    close: () => queue.close(),
    [Symbol.asyncDispose]: () => queue.close(),
  };
}
