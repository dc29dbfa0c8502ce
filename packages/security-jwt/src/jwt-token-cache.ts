import { hash } from "node:crypto";
import type { Principal } from "@proj/ports";

interface Entry {
  principal: Principal;
  /** Epoch milliseconds after which the entry must not be served. */
  validUntil: number;
}

/**
 * Verified tokens, keyed by the SHA-256 of the token so no bearer token sits in memory, bounded by
 * count (least recently used first out) and never served past the token's own validity.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  static keyOf(token: string): string {
    return hash("sha256", token, "base64");
  }

  get(key: string, now: number): Principal | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.validUntil <= now) return undefined;
    // Re-inserting moves the entry to the young end of the Map's insertion order.
    this.#entries.set(key, entry);
    return entry.principal;
  }

  set(key: string, principal: Principal, validUntil: number, now: number): void {
    const until = Math.min(validUntil, now + this.maxAgeMs);
    if (until <= now) return;
    this.#entries.delete(key);
    this.#entries.set(key, { principal, validUntil: until });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
