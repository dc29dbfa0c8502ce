import type { PostgresPoolClient } from "./postgres-pool.js";

/** The socket under a `pg.Client`; absent on foreign clients. */
export interface ClientSocket {
  connection?: { stream?: { destroy(): void } };
}

/**
 * One checked-out connection. Statements on it run one at a time through its own queue (pg
 * deprecates queueing on a busy client), so the adapter always knows which statement is running
 * and may cancel it. A doubtful connection is destroyed on release instead of being reused.
 */
export class Lease {
  readonly client: PostgresPoolClient;
  /** A cancel request was sent: it could still hit a later statement, so never reuse. */
  cancelled = false;
  /** The socket failed, or was destroyed by the adapter, while checked out. */
  broken = false;
  /** A transaction's connection: several calls share it, so statements queue. */
  shared = false;
  /** An open cursor holds the connection until it closes; statements behind it would wait forever. */
  streaming = false;
  #released = false;
  #tail: Promise<void> = Promise.resolve();
  readonly #onError = (): void => {
    this.broken = true;
  };

  constructor(client: PostgresPoolClient) {
    this.client = client;
    // A checked-out pg client has no 'error' listener: a dropped socket would crash the process.
    client.on("error", this.#onError);
  }

  /** Waits for every earlier holder, then returns the function that lets the next one in. */
  acquire(): Promise<() => void> {
    let letNextIn!: () => void;
    const turn = new Promise<void>((resolve) => {
      letNextIn = resolve;
    });
    const ready = this.#tail;
    this.#tail = ready.then(() => turn);
    return ready.then(() => letNextIn);
  }

  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    const letNextIn = await this.acquire();
    try {
      return await task();
    } finally {
      letNextIn();
    }
  }

  /**
   * Destroys the socket now. A connection that missed its deadline may be dead or merely silent;
   * either way nothing it says later can be trusted, and waiting for TCP to notice takes minutes.
   * Whatever runs on it fails at once, which frees its queue; release then drops it from the pool.
   */
  destroy(): void {
    this.broken = true;
    (this.client as unknown as ClientSocket).connection?.stream?.destroy();
  }

  /** Gives the connection back (or drops it when doubtful). Only the first call counts. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.client.removeListener("error", this.#onError);
    this.client.release(this.cancelled || this.broken);
  }
}
