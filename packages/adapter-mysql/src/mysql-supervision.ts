import type { InfrastructureError } from "@proj/ports";
import { type Interruption, mapMysqlError } from "./map-mysql-error.js";
import type { ExecutorRuntime } from "./mysql-executor.js";
import type { Lease } from "./mysql-lease.js";

/** How long a killed statement may take to come back before its socket is destroyed instead. */
export const KILL_GRACE_MS = 2_000;

/**
 * Interrupts a statement on the server when its deadline passes or its signal fires: `KILL
 * QUERY` from a side connection, then, if the statement still has not returned within
 * `KILL_GRACE_MS` (a silent network carries neither the KILL nor the answer), the connection is
 * destroyed and the statement rejected, so the caller is never left waiting.
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
    /** Time left until the call's deadline; `Infinity` for none. */
    timeoutMs: number,
    /** Told at once, so a caller reading buffered rows stops without waiting for the server. */
    private readonly onInterrupt: (error: InfrastructureError) => void = () => {},
  ) {
    if (Number.isFinite(timeoutMs)) {
      this.#timer = setTimeout(() => this.interrupt("timeout"), Math.max(0, timeoutMs));
    }
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

/**
 * Runs a statement that steers a transaction (SET TRANSACTION, START, COMMIT, SAVEPOINT,
 * ROLLBACK) under the adapter's default deadline and `signal`. Rejects with the taxonomy error;
 * its `cause` is the driver error (or `NotSentError`), which tells whether the server answered.
 */
export async function sendControl(
  runtime: ExecutorRuntime,
  lease: Lease,
  text: string,
  signal?: AbortSignal,
): Promise<void> {
  const supervision = new Supervision(runtime, lease, () => `MySQL ${text}`, signal, runtime.timeoutMs);
  try {
    await lease.send(text);
  } catch (error) {
    throw supervision.failure(error);
  } finally {
    await supervision.settle();
  }
}
