import { cancelledError, InfrastructureError } from "@proj/ports";

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The one session of a PGlite instance, handed out in turn. PGlite is a single PostgreSQL backend:
 * a transaction opened by one caller would swallow the statements of every other, so each call
 * (a statement, a whole transaction, a whole stream) holds the session until it is done. Waiters
 * queue in order, and leave the queue on timeout or abort without ever running.
 */
export class SessionQueue {
  #held = false;
  readonly #waiters: Array<() => void> = [];
  /** The schema last put on the instance's search path, so it is only set again when it changes. */
  searchPath: string | undefined;

  /** `timeoutMs` may be `Infinity`: wait as long as it takes. */
  acquire(signal: AbortSignal | undefined, timeoutMs: number, what: string): Promise<() => void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const leave = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
      };
      const grant = (): void => {
        leave();
        resolve(this.#releaser());
      };
      const onAbort = (): void => {
        leave();
        reject(cancelledError(signal as AbortSignal, what));
      };
      // setTimeout turns delays past 2^31-1 ms into 1 ms, so an unbounded wait sets no timer at all.
      const timer =
        timeoutMs <= MAX_TIMER_MS
          ? setTimeout(() => {
              leave();
              reject(
                new InfrastructureError(
                  "TIMEOUT",
                  `${what}: the PGlite session stayed busy for ${timeoutMs} ms`,
                ),
              );
            }, timeoutMs)
          : undefined;
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(grant);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next === undefined) this.#held = false;
      else next();
    };
  }
}

const queues = new WeakMap<object, SessionQueue>();

/** Adapters sharing one PGlite instance share its queue, or their transactions would interleave. */
export function sessionQueueOf(instance: object): SessionQueue {
  let queue = queues.get(instance);
  if (queue === undefined) {
    queue = new SessionQueue();
    queues.set(instance, queue);
  }
  return queue;
}
