/**
 * One-at-a-time sections per name, within this process. A put's commit reads the sidecar it
 * replaces and removes that sidecar's body; two commits of one key interleaving would both remove
 * the same old body and orphan one of the new ones.
 */
export class KeyLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(name: string, section: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(name) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(name, tail);
    await previous;
    try {
      return await section();
    } finally {
      release();
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    }
  }
}
