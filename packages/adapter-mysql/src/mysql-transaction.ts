import {
  cancelledError,
  closedError,
  InfrastructureError,
  isInfrastructureError,
  type SqlTransaction,
  type SqlTransactionOptions,
  throwIfAborted,
} from "@proj/ports";
import { isConnectionLost, mapMysqlError } from "./map-mysql-error.js";
import { type ExecutorRuntime, MysqlExecutor } from "./mysql-executor.js";
import { type Lease, NotSentError } from "./mysql-lease.js";
import { sendControl } from "./mysql-supervision.js";

/** Shared by a root transaction and its savepoints. */
export interface TransactionRoot {
  readonly lease: Lease;
  savepoints: number;
  /** Set when the server rolled the whole transaction back (deadlock, lost connection). */
  endedBy: InfrastructureError | undefined;
}

interface TransactionSteps {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

const ENDS_TRANSACTION = new Set([
  1213, // ER_LOCK_DEADLOCK: InnoDB rolls back the whole transaction
  1927, // ER_CONNECTION_KILLED
]);

export class MysqlTransaction extends MysqlExecutor implements SqlTransaction {
  #settled = false;

  constructor(
    runtime: ExecutorRuntime,
    private readonly root: TransactionRoot,
  ) {
    super(runtime);
  }

  /** @internal */
  settle(): void {
    this.#settled = true;
  }

  /** A transaction that was running when `close()` began finishes its work: `close()` waits for it. */
  protected override assertOpen(): void {
    if (this.#settled) throw closedError("MySQL transaction");
  }

  private assertUsable(): void {
    if (this.#settled) throw closedError("MySQL transaction");
    const ended = this.root.endedBy;
    if (ended) {
      throw new InfrastructureError(
        ended.code,
        `The MySQL transaction was already rolled back: ${ended.message}`,
        {
          cause: ended,
          retryable: ended.retryable,
          details: ended.details,
        },
      );
    }
  }

  protected override noteFailure(error: unknown): void {
    const errno = (error as { errno?: number } | null)?.errno;
    if ((errno !== undefined && ENDS_TRANSACTION.has(errno)) || isConnectionLost(error)) {
      this.root.endedBy ??= mapMysqlError(error, { what: "MySQL transaction" });
    }
  }

  protected async withLease<T>(
    _signal: AbortSignal | undefined,
    _deadline: number,
    use: (lease: Lease) => Promise<T>,
  ): Promise<T> {
    this.assertUsable();
    try {
      return await use(this.root.lease);
    } catch (error) {
      // The transaction's connection closed under it: nothing of the transaction can commit now.
      if (!(error instanceof NotSentError)) throw error;
      this.noteFailure(error);
      throw mapMysqlError(error, { what: "MySQL transaction" });
    }
  }

  /** The connection and with it the whole transaction are gone: retrying the transaction is safe. */
  protected unanswered(failure: InfrastructureError): InfrastructureError {
    return failure;
  }

  protected async openStreamLease(): Promise<Lease> {
    this.assertUsable();
    return this.root.lease;
  }

  protected closeStreamLease(): void {}

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>, options?: SqlTransactionOptions): Promise<T> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    this.root.savepoints += 1;
    const name = `sp_${this.root.savepoints}`;
    const nested = new MysqlTransaction(this.runtime, this.root);
    const control = (text: string) => this.control(text);
    return control(`SAVEPOINT ${name}`).then(() =>
      runTransaction(this.runtime, this.root, nested, work, options?.signal, {
        commit: () => control(`RELEASE SAVEPOINT ${name}`),
        rollback: () => control(`ROLLBACK TO SAVEPOINT ${name}`),
      }),
    );
  }

  private async control(text: string): Promise<void> {
    try {
      await sendControl(this.runtime, this.root.lease, text);
    } catch (error) {
      this.noteFailure(isInfrastructureError(error) ? error.cause : error);
      throw error;
    }
  }
}

/**
 * Runs `work` in a transaction (or savepoint) the caller has begun, then commits, rolling back when it throws or `signal` fires. On abort
 * the caller is answered at once: the running statement is killed, the transaction rolled back,
 * and every later call on `tx` is `CLOSED`.
 */
export async function runTransaction<T>(
  runtime: ExecutorRuntime,
  root: TransactionRoot,
  tx: MysqlTransaction,
  work: (tx: SqlTransaction) => Promise<T>,
  signal: AbortSignal | undefined,
  steps: TransactionSteps,
): Promise<T> {
  throwIfAborted(signal, "MySQL transaction");
  let killing: Promise<void> | undefined;
  let committing = false;
  let onAbort = () => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      // COMMIT watches the signal itself: its outcome is what the caller must hear.
      if (committing) return;
      tx.settle();
      killing = runtime.killer.kill(root.lease.threadId);
      reject(cancelledError(signal as AbortSignal, "MySQL transaction"));
    };
  });
  aborted.catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const running = work(tx);
    running.catch(() => {});
    const result = await (signal ? Promise.race([running, aborted]) : running);
    tx.settle();
    if (root.endedBy) throw root.endedBy;
    committing = true;
    await steps.commit();
    return result;
  } catch (error) {
    tx.settle();
    // A failed COMMIT or RELEASE leaves the transaction in a state nobody should build on.
    if (committing)
      root.endedBy ??= isInfrastructureError(error) ? error : mapMysqlError(error, { what: "MySQL COMMIT" });
    if (killing) await killing;
    if (!root.lease.isDone && !committing) {
      try {
        await steps.rollback();
      } catch (rollbackError) {
        // The state of the transaction is unknown now: later statements on it fail, and the root
        // drops the connection, which makes the server roll back whatever is left.
        root.endedBy ??= mapMysqlError(rollbackError, { what: "MySQL rollback" });
      }
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
