import type { Cache, Closeable, InfrastructureError } from "@proj/ports";

/**
 * What one process tells the others to drop from their L1: the entries of some keys, of a key
 * prefix, of a tag, or everything. An invalidation carries no value: a process that needs the entry
 * again reads it from L2.
 */
export type Invalidation =
  | { readonly kind: "keys"; readonly keys: readonly string[] }
  | { readonly kind: "prefix"; readonly prefix: string }
  | { readonly kind: "tag"; readonly tag: string }
  | { readonly kind: "clear" };

/** Per-call options of `InvalidationBus.publish`. */
export interface PublishOptions {
  /** Deadline of the publish in milliseconds (a positive integer or `Infinity`); past it, `TIMEOUT`. */
  timeoutMs?: number;
  /** Cancels the publish (`CANCELLED`). */
  signal?: AbortSignal;
}

/**
 * Told what the bus delivers. Times are on this process's `performance.now()` scale; `sentAt` is the
 * publisher's wall clock (`performance.timeOrigin + performance.now()`, in milliseconds).
 */
export interface InvalidationListener {
  /** An invalidation published by another instance on the bus (never one's own). */
  onInvalidation(invalidation: Invalidation, sentAt: number): void;
  /**
   * Every invalidation the broker accepted before `at` has been passed to `onInvalidation`. The bus
   * confirms this periodically while it is healthy (a heartbeat), so a listener can bound how stale
   * what it holds may be.
   */
  onConfirmed(at: number): void;
  /**
   * The subscription was lost (connection closed, heartbeat unanswered): invalidations may be
   * missed from now until the next `onSubscribed`.
   */
  onDown(error: InfrastructureError): void;
  /**
   * Subscribed (first time, or again after `onDown`) as of `at`: invalidations accepted by the broker
   * from then on are delivered. After an `onDown`, any published in between may have been missed.
   */
  onSubscribed(at: number): void;
}

/**
 * The invalidation bus: the seam between the tiered cache and the broker that carries its
 * invalidations to the other processes. At-most-once delivery is enough, because the bus says when
 * it may have lost messages (`onDown`) and when it is whole again (`onSubscribed`).
 *
 * Contract: `publish` resolves once the broker accepted the invalidation for every current
 * subscriber (instances in the same process receive it before `publish` resolves), and fails with
 * `UNAVAILABLE` or `TIMEOUT` otherwise, within its deadline; an instance never receives its own
 * invalidations; `close()` stops delivery and releases the connections, after which `publish` is
 * `CLOSED`.
 */
export interface InvalidationBus extends Closeable {
  /** Starts delivering to `listener`. A bus has one listener; a second call is `INVALID_ARGUMENT`. */
  listen(listener: InvalidationListener): void;
  publish(invalidation: Invalidation, options?: PublishOptions): Promise<void>;
  /**
   * Optional: the message that carries `invalidation` when `l2` publishes it itself at the end of
   * its write (`setAndPublish` of `@proj/cache-redis`), for an `l2` on the broker this bus listens
   * to; `undefined` otherwise (the caller then calls `publish` after the write). The caller writes
   * with it and, once the write succeeded, calls `sent()`, which hands the invalidation to the
   * instances of this process, as `publish` does; the broker delivers it to the others.
   */
  attach?(invalidation: Invalidation, l2: Cache<unknown>): AttachedInvalidation | undefined;
}

/** An invalidation that rides on an L2 write (see `InvalidationBus.attach`). */
export interface AttachedInvalidation {
  /** The broker's channel. */
  readonly channel: string;
  readonly message: string;
  /** The write that carried the message succeeded: deliver it within this process too. */
  sent(): void;
}

/** A held lock of one key (see `LoaderLock`). */
export interface LoaderLease {
  /**
   * The fencing check: true when this lease still holds the lock, which is then extended to
   * `ttlMs` from now (atomically with the check); false when it expired and another holder may have
   * taken it, in which case the holder must not store what it loaded.
   */
  confirm(ttlMs: number): Promise<boolean>;
  /** Lets go of the lock if this lease still holds it. Never throws. */
  release(): Promise<void>;
}

/**
 * Who runs the loader of a key on a miss, across processes: the holder of the key's lock. A lock
 * expires by itself after its TTL, so a holder that died stops blocking the others.
 */
export interface LoaderLock extends Closeable {
  /** Takes the lock of `key` for `ttlMs`, or resolves `undefined` when another holder has it. */
  tryAcquire(key: string, ttlMs: number): Promise<LoaderLease | undefined>;
}
