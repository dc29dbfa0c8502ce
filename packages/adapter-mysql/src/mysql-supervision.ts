import type { InfrastructureError } from "@proj/ports";
import { type Interruption, mapMysqlError } from "./map-mysql-error.js";
import type { ExecutorRuntime } from "./mysql-executor.js";
import type { Lease } from "./mysql-lease.js";

/** How long a killed statement may take to come back before its socket is destroyed instead. */
export const KILL_GRACE_MS = 2_000;

/**
 * Interrupts a statement on the server when its time limit passes or its signal fires: `KILL
 * QUERY` from a side connection, then, if the statement still has not returned, the socket is
 * destroyed so the caller is never left waiting.
 */
export class Supervision {
  interruption: Interruption | undefined;
  #killing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #fallback: NodeJS.Timeout | undefined;
  readonly #onAbort = () => this.interrupt("abort");

  constructor(
    private readonly runtime: ExecutorRuntime,
    private readonly lease: Lease,
    private readonly what: () => string,
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number,
    /** Told at once, so a caller reading buffered rows stops without waiting for the server. */
    private readonly onInterrupt: (error: InfrastructureError) => void = () => {},
  ) {
    if (timeoutMs > 0) this.#timer = setTimeout(() => this.interrupt("timeout"), timeoutMs);
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** `undefined`: the caller left early, so there is nobody to report an error to. */
  interrupt(why: Interruption | undefined): void {
    if (this.#killing) return;
    this.interruption = why;
    this.#killing = this.runtime.killer.kill(this.lease.threadId);
    this.#fallback = setTimeout(() => this.lease.destroy(), KILL_GRACE_MS);
    if (why) this.onInterrupt(this.failure());
  }

  /**
   * What the call reports once interrupted, even when the server answered anyway: a KILLed
   * SLEEP() returns 1 instead of failing, and the deadline has passed either way.
   */
  failure(cause?: unknown): InfrastructureError {
    return mapMysqlError(cause, { what: this.what(), interruption: this.interruption, signal: this.signal });
  }

  /** Stops the timers; resolves once a KILL in flight has landed, so it cannot hit a later statement. */
  async settle(): Promise<void> {
    clearTimeout(this.#timer);
    this.signal?.removeEventListener("abort", this.#onAbort);
    if (this.#killing && !this.lease.isDone) await this.#killing;
    clearTimeout(this.#fallback);
  }
}
