import { withDeadline } from "./deadline.js";

const FIRST_RETRY_MS = 500;
const LONGEST_PAUSE_MS = 5_000;

/**
 * Clean-up that could not reach the server when it was due (aborting a multipart upload while the
 * network is down), tried again in the background: after 0.5 s, then doubling up to every 5 s,
 * each attempt under the store's call deadline, until it succeeds, `giveUpAfterMs` has passed or
 * the store closes. Its timers never keep the process alive.
 */
export class Janitor {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #controller = new AbortController();

  constructor(
    private readonly timeoutMs: number,
    private readonly giveUpAfterMs: number,
  ) {}

  /** Clean-up tasks waiting for their next attempt. */
  get pending(): number {
    return this.#timers.size;
  }

  later(what: string, task: (signal: AbortSignal) => Promise<void>): void {
    const giveUpAt = Date.now() + this.giveUpAfterMs;
    const attempt = (pauseMs: number) => {
      if (this.#controller.signal.aborted || Date.now() + pauseMs > giveUpAt) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        withDeadline(this.timeoutMs, this.#controller.signal, what, task).catch(() =>
          attempt(Math.min(pauseMs * 2, LONGEST_PAUSE_MS)),
        );
      }, pauseMs);
      timer.unref();
      this.#timers.add(timer);
    };
    attempt(FIRST_RETRY_MS);
  }

  close(): void {
    this.#controller.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
