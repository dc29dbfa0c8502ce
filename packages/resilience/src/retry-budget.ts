import { InfrastructureError } from "@proj/ports";

/**
 * How many retries a policy may make, whatever the calls' own attempts allow: at most
 * `minRetriesPerSecond × window` plus `ratio ×` the calls made in the last `windowMs`. When a backend
 * fails every call, retries then add a bounded share of load (20 % by default) instead of
 * multiplying it by the attempt count.
 */
export interface RetryBudgetOptions {
  /** Retries allowed per call made in the window, 0 to 1 (default 0.2). */
  ratio?: number;
  /** Retries always allowed, per second of the window, whatever the traffic (default 10). */
  minRetriesPerSecond?: number;
  /** The sliding window, in milliseconds, a multiple of 10 (default 10,000). */
  windowMs?: number;
}

const BUCKETS = 10;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

/** Counts calls and retries in ten buckets covering the window. */
export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #bucket = -1;
  readonly #now: () => number;

  constructor(options: RetryBudgetOptions = {}, now: () => number = Date.now) {
    const ratio = options.ratio ?? 0.2;
    const minPerSecond = options.minRetriesPerSecond ?? 10;
    const windowMs = options.windowMs ?? 10_000;
    if (!(ratio >= 0 && ratio <= 1)) throw invalid("retry budget ratio must be between 0 and 1");
    if (!(minPerSecond >= 0 && Number.isFinite(minPerSecond)))
      throw invalid("retry budget minRetriesPerSecond must be a finite number ≥ 0");
    if (!Number.isInteger(windowMs) || windowMs < BUCKETS || windowMs % BUCKETS !== 0)
      throw invalid("retry budget windowMs must be a positive multiple of 10");
    this.#ratio = ratio;
    this.#floor = (minPerSecond * windowMs) / 1000;
    this.#bucketMs = windowMs / BUCKETS;
    this.#now = now;
  }

  #advance(): number {
    const bucket = Math.floor(this.#now() / this.#bucketMs);
    if (bucket !== this.#bucket) {
      const stale = Math.min(BUCKETS, Math.max(0, bucket - this.#bucket));
      for (let i = 1; i <= stale; i++) {
        const index = (this.#bucket + i) % BUCKETS;
        this.#calls[index] = 0;
        this.#retries[index] = 0;
      }
      this.#bucket = bucket;
    }
    return bucket % BUCKETS;
  }

  /** Counts one call (its first attempt). */
  recordCall(): void {
    const index = this.#advance();
    this.#calls[index] = (this.#calls[index] ?? 0) + 1;
  }

  /** Retries still allowed in the window right now. */
  get remaining(): number {
    this.#advance();
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i] ?? 0;
      retries += this.#retries[i] ?? 0;
    }
    return Math.max(0, Math.floor(this.#floor + this.#ratio * calls - retries));
  }

  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  tryRetry(): boolean {
    if (this.remaining < 1) return false;
    const index = this.#advance();
    this.#retries[index] = (this.#retries[index] ?? 0) + 1;
    return true;
  }
}
