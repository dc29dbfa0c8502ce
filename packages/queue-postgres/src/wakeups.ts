/**
 * What a worker offers to the rest of its process: a nudge to look for jobs now, and a way to stop a
 * delivery that was cancelled here.
 */
export interface LocalWorker {
  readonly queue: string;
  /** Look for jobs now instead of at the next poll. */
  wake(): void;
  /** Fires the signal of the delivery of `id`, if this worker runs it. */
  cancelled(id: string): void;
  /**
   * Checks its running jobs for cancels now (a lease renewal ahead of time): cancels sent while
   * this process was not listening yet, or again, reached nobody.
   */
  recheck(): void;
}

/**
 * Workers of this process by schema and queue: an `enqueue`, a `redrive` or a `cancel` made here
 * wakes them at once, without a round trip; one made in another process reaches them through
 * LISTEN/NOTIFY (notifications.ts). A wake of a worker on another database with the same schema
 * name costs one extra claim query, nothing more.
 */
const registry = new Map<string, Map<string, Set<LocalWorker>>>();

export function registerWorker(schema: string, worker: LocalWorker): () => void {
  let queues = registry.get(schema);
  if (!queues) {
    queues = new Map();
    registry.set(schema, queues);
  }
  let workers = queues.get(worker.queue);
  if (!workers) {
    workers = new Set();
    queues.set(worker.queue, workers);
  }
  workers.add(worker);
  return () => {
    workers.delete(worker);
    if (workers.size === 0 && queues.get(worker.queue) === workers) queues.delete(worker.queue);
    if (queues.size === 0 && registry.get(schema) === queues) registry.delete(schema);
  };
}

export function wakeWorkers(schema: string, queue: string): void {
  const workers = registry.get(schema)?.get(queue);
  if (workers) for (const worker of workers) worker.wake();
}

export function cancelLocally(schema: string, id: string): void {
  const queues = registry.get(schema);
  if (!queues) return;
  for (const workers of queues.values()) for (const worker of workers) worker.cancelled(id);
}

/** Every worker of `schema` in this process checks its running jobs for cancels now. */
export function recheckWorkers(schema: string): void {
  const queues = registry.get(schema);
  if (!queues) return;
  for (const workers of queues.values()) for (const worker of workers) worker.recheck();
}
