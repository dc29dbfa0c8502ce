import type { JobHandler, JobQueue, JsonValue } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { intercept } from "../intercept.js";

/**
 * A `JobQueue` with faults injected by `chaos` (or a chaos made from these options). Keys: the
 * queue's name (`cancel` and `redrive`: the job's id). `handle` is each delivery to a handler given
 * to `work`: a fault of the `"before"` phase fails the attempt without running the handler; one of
 * the `"after"` phase runs the handler, then fails the attempt, as a worker that died after doing
 * the work would, so the job is delivered again: what an idempotent handler must survive.
 */
export function withChaosJobQueue(queue: JobQueue, chaos: Chaos | ChaosOptions): JobQueue {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("jobs", operation);
  const enqueue = site("enqueue");
  const cancel = site("cancel");
  const listDeadLetters = site("listDeadLetters");
  const redrive = site("redrive");
  const handle = site("handle");
  return {
    get capabilities() {
      return queue.capabilities;
    },
    enqueue: (name, payload, options) =>
      intercept(
        enqueue,
        () => name,
        options?.signal,
        () => queue.enqueue(name, payload, options),
      ),
    work: <P extends JsonValue = JsonValue>(
      name: string,
      handler: JobHandler<P>,
      options?: Parameters<JobQueue["work"]>[2],
    ) =>
      queue.work<P>(
        name,
        typeof handler === "function" && handle.rules.length > 0
          ? (job) =>
              intercept(
                handle,
                () => job.queue,
                job.signal,
                () => handler(job),
              )
          : handler,
        options,
      ),
    cancel: (id, options) =>
      intercept(
        cancel,
        () => id,
        options?.signal,
        () => queue.cancel(id, options),
      ),
    listDeadLetters: (name, options) =>
      intercept(
        listDeadLetters,
        () => name,
        options?.signal,
        () => queue.listDeadLetters(name, options),
      ),
    redrive: (id, options) =>
      intercept(
        redrive,
        () => id,
        options?.signal,
        () => queue.redrive(id, options),
      ),
    close: () => queue.close(),
    [Symbol.asyncDispose]: () => queue.close(),
  };
}
