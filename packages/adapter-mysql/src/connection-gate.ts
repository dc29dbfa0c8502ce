import { cancelledError, closedError, InfrastructureError } from "@proj/ports";

interface Waiter {
  grant(): void;
  fail(error: InfrastructureError): void;
}

/**
 * Hands out at most `size` permits, one per pooled connection in use. mysql2's pool queues
 * waiters forever; this queue gives each waiter an acquire timeout and an abort signal, and
 * removes it from the line when either fires.
 */
export class ConnectionGate {
  #available: number;
  readonly #waiters: Waiter[] = [];
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(
    private readonly size: number,
    private readonly acquireTimeoutMs: number,
  ) {
    this.#available = size;
  }

  /** Permits taken: calls holding (or opening, or resetting) a connection. */
  get inUse(): number {
    return this.size - this.#available;
  }

  /** Resolves once every permit is back. */
  whenIdle(): Promise<void> {
    if (this.inUse === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Takes a permit, waiting at most `acquireTimeoutMs`, or `deadlineMs` when the call's own
   * deadline comes first.
   */
  acquire(signal: AbortSignal | undefined, deadlineMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.#closed) return Promise.reject(closedError("MySQL database"));
    if (signal?.aborted) return Promise.reject(cancelledError(signal, "Waiting for a MySQL connection"));
    if (this.#available > 0 && this.#waiters.length === 0) {
      this.#available -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
      };
      const waiter: Waiter = {
        grant: () => {
          leave();
          resolve();
        },
        fail: (error) => {
          leave();
          reject(error);
        },
      };
      const onAbort = () =>
        waiter.fail(cancelledError(signal as AbortSignal, "Waiting for a MySQL connection"));
      const byDeadline = deadlineMs < this.acquireTimeoutMs;
      const timer = setTimeout(
        () =>
          waiter.fail(
            byDeadline
              ? new InfrastructureError(
                  "TIMEOUT",
                  "The call's deadline passed while it waited for a MySQL connection (pool exhausted)",
                  { retryable: true },
                )
              : new InfrastructureError(
                  "TIMEOUT",
                  `No MySQL connection became free within ${this.acquireTimeoutMs} ms (pool exhausted)`,
                  { details: { acquireTimeoutMs: this.acquireTimeoutMs } },
                ),
          ),
        Math.max(0, Math.min(deadlineMs, this.acquireTimeoutMs)),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiters[0];
    if (next) next.grant();
    else this.#available += 1;
    if (this.inUse === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#waiters]) waiter.fail(closedError("MySQL database"));
  }
}
