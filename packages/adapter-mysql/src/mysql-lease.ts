import type { PoolConnection as CorePoolConnection } from "mysql2";
import type { Parameter } from "./mysql-values.js";

/**
 * One pooled connection checked out for a statement, a stream or a transaction. It drives mysql2's
 * callback API directly: one promise per statement, no per-call wrapper objects.
 */
export class Lease {
  #done = false;

  constructor(
    readonly core: CorePoolConnection,
    /** It served earlier calls, so the server may have dropped it while it sat idle in the pool. */
    readonly reused: boolean,
    private readonly onDone: () => void,
  ) {}

  get threadId(): number {
    return this.core.threadId;
  }

  get isDone(): boolean {
    return this.#done;
  }

  /** Runs one statement: over the text protocol without parameters, prepared and bound with them. */
  send(text: string, values: readonly Parameter[] = []): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const done = (error: unknown, result: unknown) => (error ? reject(error) : resolve(result));
      if (values.length === 0) this.core.query(text, done);
      else this.core.execute(text, values as Parameter[], done);
    });
  }

  ping(): Promise<void> {
    return new Promise((resolve, reject) => this.core.ping((error) => (error ? reject(error) : resolve())));
  }

  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.core.release();
    this.onDone();
  }

  /** Drops the connection instead of returning it: its state is unknown or it is broken. */
  destroy(): void {
    if (this.#done) return;
    this.#done = true;
    this.core.destroy();
    this.onDone();
  }
}
