import {
  cancelledError,
  type ErrorCode,
  InfrastructureError,
  isInfrastructureError,
  outcomeUnknownError,
} from "@proj/ports";
import {
  type BulkheadPolicy,
  bulkhead,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isIsolatedCircuitError,
  type RetryPolicy,
  retry,
  type TimeoutPolicy,
  TimeoutStrategy,
  timeout,
} from "cockatiel";
import { RetryBudget, type RetryBudgetOptions } from "./retry-budget.js";

/** The ports a policy decorates; errors and events name the port and the operation. */
export type ResiliencePort =
  | "cache"
  | "objectStorage"
  | "sql"
  | "documents"
  | "localFiles"
  | "tenants"
  | "reports"
  | "tokens"
  | "jobs";

export interface RetryOptions {
  /** Attempts in all, the first included: a positive integer (default 3; 1 turns retrying off). */
  maxAttempts?: number;
  /** Scale of the first back-off, in milliseconds (default 50). */
  initialDelayMs?: number;
  /** Longest back-off, in milliseconds (default 2,000). */
  maxDelayMs?: number;
  /** Caps retries across all calls of the policy (default on); `false` for no cap. */
  budget?: RetryBudgetOptions | false;
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  consecutiveFailures?: number;
  /** How long the circuit stays open before one probe call may pass, in milliseconds (default 10,000). */
  halfOpenAfterMs?: number;
  /**
   * Which errors count as a failure of the backend. Default: taxonomy errors coded `UNAVAILABLE` or
   * `TIMEOUT`, and retryable `RESOURCE_EXHAUSTED` (throttling). A caller's own cancellation, an
   * answer such as `NOT_FOUND` or `CONFLICT`, and errors thrown by the caller's code (a `getOrSet`
   * loader, report rows) never count.
   */
  isFailure?: (error: unknown) => boolean;
}

export interface BulkheadOptions {
  /** Calls running at once through the policy, a positive integer. */
  maxConcurrent: number;
  /** Calls waiting for a slot beyond those, a non-negative integer (default 0). Past it: `RESOURCE_EXHAUSTED`. */
  maxQueued?: number;
}

export interface ResilienceOptions {
  /** Names the policy in errors and events (default `"resilience"`). */
  name?: string;
  /** Retry of idempotent operations; `false` turns it off. */
  retry?: RetryOptions | false;
  /**
   * Deadline of each attempt in milliseconds, a positive integer (default 30,000), or `false` for
   * none. Operations that run the caller's code (`getOrSet`, transactions, `withTempFile`,
   * `generate`) have none unless `operationTimeoutsMs` gives one.
   */
  timeoutMs?: number | false;
  /**
   * Deadlines per operation, replacing `timeoutMs`: keyed by operation (`"query"`) or by port and
   * operation (`"sql.query"`, which wins).
   */
  operationTimeoutsMs?: Readonly<Record<string, number | false>>;
  /** The circuit breaker; `false` turns it off. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** The concurrency limit; off unless given. */
  bulkhead?: BulkheadOptions | false;
  /** Told of every retry, timeout, rejection and circuit change. It must not throw. */
  onEvent?: (event: ResilienceEvent) => void;
}

/** Where the operation an event is about comes from. */
export interface ResilienceEventSource {
  policy: string;
  port: ResiliencePort;
  operation: string;
}

/** What a policy did, as told to `onEvent`. */
export type ResilienceEvent =
  | (ResilienceEventSource & {
      type: "retry";
      /** The attempt that failed, 1 for the first. */
      attempt: number;
      error: InfrastructureError;
    })
  | (ResilienceEventSource & { type: "retry-budget-exhausted"; error: InfrastructureError })
  | (ResilienceEventSource & { type: "timeout"; timeoutMs: number; started: boolean })
  | (ResilienceEventSource & { type: "bulkhead-rejected" })
  | { type: "circuit-open"; policy: string; error: unknown }
  | { type: "circuit-half-open"; policy: string }
  | { type: "circuit-closed"; policy: string };

/** State of a policy's circuit: `"none"` when it has no breaker. */
export type CircuitStatus = "closed" | "open" | "half-open" | "isolated" | "none";

export interface ResilienceStats {
  circuit: CircuitStatus;
  /** Calls holding a bulkhead slot (0 without a bulkhead). */
  running: number;
  /** Calls waiting for a slot. */
  queued: number;
  /** Retries the budget allows right now (`Infinity` without a budget, 0 without retry). */
  retryBudget: number;
}

/**
 * What a rejection or a timeout of a policy says in `details.resilience`: `"circuit-open"`,
 * `"bulkhead-full"` or `"timeout"`.
 */
export type ResilienceRejection = "circuit-open" | "bulkhead-full" | "timeout";

/** @internal One operation of one port, resolved against a policy once per decorator. */
export interface Operation {
  readonly port: ResiliencePort;
  readonly name: string;
  /** `port.name`, for messages. */
  readonly what: string;
  /** Doing it twice leaves the same state as doing it once: it may be retried. */
  readonly idempotent: boolean;
  /**
   * Doing it again after it may have taken effect is harmless (a member set's `addMembers`): a
   * `TIMEOUT` or `UNAVAILABLE` whose outcome is unknown is retried too. Only with `idempotent`.
   */
  readonly repeatable: boolean;
  readonly timeoutMs: number | false;
  readonly timeout: TimeoutPolicy | undefined;
}

/** @internal Per-call knowledge the decorator has and the policy has not. */
export interface CallHooks<T> {
  /** True for an error thrown by the caller's own code (never retried, never a backend failure). */
  isCallerError?(error: unknown): boolean;
  /** Frees a value that arrived after the attempt timed out (a stream nobody will read). */
  abandon?(value: T): void;
}

/** @internal A result that holds a bulkhead slot until `release`. */
export interface Held<T> {
  value: T;
  release(): void;
}

const noop = () => {};

/** Wraps an error the breaker must count; unwrapped before it reaches the caller. */
class CountedFailure {
  constructor(readonly error: unknown) {}
}

/** Asks cockatiel's retry loop for another attempt; unwrapped before it reaches the caller. */
class RetryRequest {
  constructor(readonly error: unknown) {}
}

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw invalid(`${what} must be a positive integer`);
  return value;
}

function deadline(value: number | false, what: string): number | false {
  if (value === false || value === Number.POSITIVE_INFINITY) return false;
  return positiveInteger(value, what);
}

function rejectionOf(error: unknown): unknown {
  return isInfrastructureError(error) ? error.details.resilience : undefined;
}

const DEFAULT_FAILURE_CODES: ReadonlySet<ErrorCode> = new Set(["UNAVAILABLE", "TIMEOUT"]);

function defaultIsFailure(error: unknown): boolean {
  if (!isInfrastructureError(error)) return false;
  return DEFAULT_FAILURE_CODES.has(error.code) || (error.code === "RESOURCE_EXHAUSTED" && error.retryable);
}

const CIRCUIT_NAMES: Record<CircuitState, CircuitStatus> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

/**
 * Retry, timeout, circuit breaker and bulkhead, on cockatiel, for the decorators of this package.
 * One policy holds one breaker, one bulkhead and one retry budget: decorate one adapter with one
 * policy (pass options to a decorator and it makes one), or share a policy on purpose between
 * adapters that fail together.
 *
 * Per call, from the outside in: retry (idempotent operations only) → circuit breaker → timeout
 * of the attempt → bulkhead → the adapter. A retry waits out a jittered exponential back-off; the
 * timeout covers the wait for a bulkhead slot and aborts the adapter's call through its signal.
 */
export class ResiliencePolicy {
  readonly name: string;
  readonly #retry: RetrySettings | undefined;
  readonly #breaker: CircuitBreakerPolicy | undefined;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #bulkhead: BulkheadPolicy | undefined;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number | false;
  readonly #operationTimeouts: Readonly<Record<string, number | false>>;
  readonly #timeouts = new Map<number, TimeoutPolicy>();
  readonly #onEvent: ((event: ResilienceEvent) => void) | undefined;

  constructor(options: ResilienceOptions = {}) {
    this.name = options.name ?? "resilience";
    this.#onEvent = options.onEvent;
    this.#timeoutMs = deadline(options.timeoutMs ?? 30_000, "timeoutMs");
    const operationTimeouts: Record<string, number | false> = {};
    for (const [key, value] of Object.entries(options.operationTimeoutsMs ?? {}))
      operationTimeouts[key] = deadline(value, `operationTimeoutsMs.${key}`);
    this.#operationTimeouts = operationTimeouts;

    const retryOptions = options.retry ?? {};
    const maxAttempts =
      retryOptions === false ? 1 : positiveInteger(retryOptions.maxAttempts ?? 3, "retry.maxAttempts");
    if (retryOptions !== false && maxAttempts > 1) {
      const initialDelay = positiveInteger(retryOptions.initialDelayMs ?? 50, "retry.initialDelayMs");
      const maxDelay = positiveInteger(retryOptions.maxDelayMs ?? 2_000, "retry.maxDelayMs");
      if (maxDelay < initialDelay) throw invalid("retry.maxDelayMs must be at least retry.initialDelayMs");
      this.#retry = {
        maxAttempts,
        policy: retry(
          handleWhen((error) => error instanceof RetryRequest),
          {
            maxAttempts: maxAttempts - 1,
            backoff: new ExponentialBackoff({ initialDelay, maxDelay }),
          },
        ),
        budget: retryOptions.budget === false ? undefined : new RetryBudget(retryOptions.budget ?? {}),
      };
    }

    const breakerOptions = options.circuitBreaker ?? {};
    this.#isFailure = (breakerOptions !== false && breakerOptions.isFailure) || defaultIsFailure;
    if (breakerOptions !== false) {
      const breaker = circuitBreaker(
        handleWhen((error) => error instanceof CountedFailure),
        {
          breaker: new ConsecutiveBreaker(
            positiveInteger(breakerOptions.consecutiveFailures ?? 5, "circuitBreaker.consecutiveFailures"),
          ),
          halfOpenAfter: positiveInteger(
            breakerOptions.halfOpenAfterMs ?? 10_000,
            "circuitBreaker.halfOpenAfterMs",
          ),
        },
      );
      breaker.onBreak((reason) =>
        this.#emit({
          type: "circuit-open",
          policy: this.name,
          error: "error" in reason ? unwrapCounted(reason.error) : undefined,
        }),
      );
      breaker.onHalfOpen(() => this.#emit({ type: "circuit-half-open", policy: this.name }));
      breaker.onReset(() => this.#emit({ type: "circuit-closed", policy: this.name }));
      this.#breaker = breaker;
    }

    const bulkheadOptions = options.bulkhead ?? false;
    if (bulkheadOptions !== false) {
      this.#maxConcurrent = positiveInteger(bulkheadOptions.maxConcurrent, "bulkhead.maxConcurrent");
      const queued = bulkheadOptions.maxQueued ?? 0;
      if (!Number.isInteger(queued) || queued < 0)
        throw invalid("bulkhead.maxQueued must be a non-negative integer");
      this.#maxQueued = queued;
      this.#bulkhead = bulkhead(this.#maxConcurrent, queued);
    } else {
      this.#maxConcurrent = 0;
      this.#maxQueued = 0;
    }
  }

  /** The circuit, bulkhead and retry budget as they are now. */
  stats(): ResilienceStats {
    const bulk = this.#bulkhead;
    return {
      circuit: this.#breaker === undefined ? "none" : CIRCUIT_NAMES[this.#breaker.state],
      running: bulk === undefined ? 0 : this.#maxConcurrent - bulk.executionSlots,
      queued: bulk === undefined ? 0 : this.#maxQueued - bulk.queueSlots,
      retryBudget:
        this.#retry === undefined ? 0 : (this.#retry.budget?.remaining ?? Number.POSITIVE_INFINITY),
    };
  }

  /** @internal Resolves one operation's settings; decorators call it once per operation. */
  operation(
    port: ResiliencePort,
    name: string,
    options: { idempotent: boolean; runsCallerCode?: boolean; repeatable?: boolean },
  ): Operation {
    const what = `${port}.${name}`;
    const timeoutMs =
      this.#operationTimeouts[what] ??
      this.#operationTimeouts[name] ??
      (options.runsCallerCode ? false : this.#timeoutMs);
    return {
      port,
      name,
      what,
      idempotent: options.idempotent,
      repeatable: options.idempotent && options.repeatable === true,
      timeoutMs,
      timeout: timeoutMs === false ? undefined : this.#timeoutPolicy(timeoutMs),
    };
  }

  /** @internal Runs one call of `operation` through the policies. */
  run<T>(
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks?: CallHooks<T>,
  ): Promise<T> {
    return this.#execute(operation, signal, call, hooks, false) as Promise<T>;
  }

  /**
   * @internal Like `run`, for a call that hands over something to consume (a stream): the bulkhead
   * slot is held until `release`, and the timeout ends at the hand-over.
   */
  open<T>(
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks?: CallHooks<T>,
  ): Promise<Held<T>> {
    return this.#execute(operation, signal, call, hooks, true) as Promise<Held<T>>;
  }

  #execute<T>(
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
  ): Promise<unknown> {
    if (this.#retry === undefined || !operation.idempotent)
      return this.#attempt(operation, signal, call, hooks, hold);
    return this.#withRetry(this.#retry, operation, signal, hooks, () =>
      this.#attempt(operation, signal, call, hooks, hold),
    );
  }

  #timeoutPolicy(ms: number): TimeoutPolicy {
    let policy = this.#timeouts.get(ms);
    if (policy === undefined) {
      // Aggressive: the call rejects at the deadline even if the adapter ignores its signal.
      // abortOnReturn false: a stream handed over keeps a live signal after the call returns.
      policy = timeout(ms, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
      this.#timeouts.set(ms, policy);
    }
    return policy;
  }

  async #withRetry<T>(
    settings: RetrySettings,
    operation: Operation,
    signal: AbortSignal | undefined,
    hooks: CallHooks<T> | undefined,
    attempt: () => Promise<unknown>,
  ): Promise<unknown> {
    settings.budget?.recordCall();
    // The first attempt runs outside cockatiel's loop, so a call that succeeds pays nothing for
    // retrying; the loop takes over at the first failure worth another attempt.
    let first: unknown;
    try {
      return await attempt();
    } catch (error) {
      first = error;
    }
    const state = { backingOff: false };
    if (!this.#retrying(settings, state, 0, first, operation, signal, hooks)) throw first;
    const running = settings.policy
      .execute(async ({ attempt: index }) => {
        // cockatiel's attempt 0 is the failure above: answering it again makes the loop back off.
        if (index === 0) throw new RetryRequest(first);
        state.backingOff = false;
        if (signal?.aborted) throw cancelledError(signal, operation.what);
        try {
          return await attempt();
        } catch (error) {
          if (this.#retrying(settings, state, index, error, operation, signal, hooks))
            throw new RetryRequest(error);
          throw error;
        }
      }, signal)
      .catch((error: unknown) => {
        throw error instanceof RetryRequest ? error.error : error;
      });
    if (signal === undefined) return running;
    // cockatiel's back-off does not listen to the signal: a caller who gives up while we wait is
    // answered at once (the loop notices before its next attempt and makes none).
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (state.backingOff) reject(cancelledError(signal, operation.what));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
      running.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Whether attempt `index` (from 0), which failed with `error`, gets another; says so to `onEvent`. */
  #retrying(
    settings: RetrySettings,
    state: { backingOff: boolean },
    index: number,
    error: unknown,
    operation: Operation,
    signal: AbortSignal | undefined,
    hooks: CallHooks<never> | undefined,
  ): boolean {
    if (index + 1 >= settings.maxAttempts || signal?.aborted || !this.#retryable(error, operation, hooks))
      return false;
    if (settings.budget !== undefined && !settings.budget.tryRetry()) {
      this.#emit({ type: "retry-budget-exhausted", ...this.#source(operation), error });
      return false;
    }
    state.backingOff = true;
    this.#emit({ type: "retry", ...this.#source(operation), attempt: index + 1, error });
    return true;
  }

  #retryable(
    error: unknown,
    operation: Operation,
    hooks: CallHooks<never> | undefined,
  ): error is InfrastructureError {
    if (!isInfrastructureError(error)) return false;
    // Sent, and no answer (`isOutcomeUnknown`): only an operation that may be done again whatever it
    // did is retried, and only after a failure of the backend (never a cancellation).
    const again =
      error.details.outcome === "unknown"
        ? operation.repeatable && (error.code === "TIMEOUT" || error.code === "UNAVAILABLE")
        : error.retryable;
    if (!again) return false;
    const rejection = rejectionOf(error);
    if (rejection === "circuit-open" || rejection === "bulkhead-full") return false;
    return hooks?.isCallerError?.(error) !== true;
  }

  #attempt<T>(
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
  ): Promise<unknown> {
    const breaker = this.#breaker;
    if (breaker === undefined) return this.#timed(operation, signal, call, hooks, hold);
    return this.#guarded(breaker, operation, signal, call, hooks, hold);
  }

  async #guarded<T>(
    breaker: CircuitBreakerPolicy,
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
  ): Promise<unknown> {
    try {
      return await breaker.execute(async () => {
        try {
          return await this.#timed(operation, signal, call, hooks, hold);
        } catch (error) {
          if (this.#countsAsFailure(error, signal, hooks)) throw new CountedFailure(error);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof CountedFailure) throw error.error;
      if (isBrokenCircuitError(error) || isIsolatedCircuitError(error))
        throw this.#openError(operation, breaker);
      throw error;
    }
  }

  #countsAsFailure(
    error: unknown,
    signal: AbortSignal | undefined,
    hooks: CallHooks<never> | undefined,
  ): boolean {
    if (signal?.aborted || hooks?.isCallerError?.(error) === true) return false;
    const rejection = rejectionOf(error);
    if (rejection === "bulkhead-full" || rejection === "circuit-open") return false;
    // A deadline that ran out in the bulkhead's queue says the policy is saturated, not the backend.
    if (rejection === "timeout" && isInfrastructureError(error) && error.details.started === false)
      return false;
    return this.#isFailure(error);
  }

  #timed<T>(
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
  ): Promise<unknown> {
    const policy = operation.timeout;
    if (policy === undefined) return this.#bulk(operation, signal, call, hooks, hold, undefined);
    return this.#deadline(policy, operation, signal, call, hooks, hold);
  }

  async #deadline<T>(
    policy: TimeoutPolicy,
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
  ): Promise<unknown> {
    const state: AttemptState = { started: false, timer: undefined };
    try {
      // The timer's signal alone goes to cockatiel, so a caller's abort reaches the adapter and the
      // adapter's own answer (which may say the outcome is unknown) reaches the caller.
      return await policy.execute(({ signal: timer }) => {
        state.timer = timer;
        return this.#bulk(
          operation,
          signal ? AbortSignal.any([signal, timer]) : timer,
          call,
          hooks,
          hold,
          state,
        );
      });
    } catch (error) {
      if (state.timer?.aborted && !signal?.aborted) throw this.#timeoutError(operation, state.started, error);
      throw error;
    }
  }

  #bulk<T>(
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
    state: AttemptState | undefined,
  ): Promise<unknown> {
    const bulk = this.#bulkhead;
    if (bulk === undefined && state === undefined && !hold) {
      try {
        return call(signal);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#slotted(bulk, operation, signal, call, hooks, hold, state);
  }

  async #slotted<T>(
    bulk: BulkheadPolicy | undefined,
    operation: Operation,
    signal: AbortSignal | undefined,
    call: (signal: AbortSignal | undefined) => Promise<T>,
    hooks: CallHooks<T> | undefined,
    hold: boolean,
    state: AttemptState | undefined,
  ): Promise<unknown> {
    // A call whose signal has fired takes no slot: the adapter answers it at once, in its own way
    // (a report generator destroys its output, for one).
    if (bulk !== undefined && !hold && bulk.executionSlots > 0 && !signal?.aborted) {
      // A free slot: the call runs inside cockatiel's bulkhead at once, no queue to wait in.
      if (state !== undefined) state.started = true;
      const value = await bulk.execute(() => call(signal));
      if (state?.timer?.aborted) hooks?.abandon?.(value);
      return value;
    }
    const release = bulk === undefined || signal?.aborted ? noop : await this.#acquire(operation, signal);
    if (state !== undefined) state.started = true;
    let value: T;
    try {
      value = await call(signal);
    } catch (error) {
      release();
      throw error;
    }
    if (state?.timer?.aborted) {
      // The caller already has its TIMEOUT: nobody will consume what came late.
      hooks?.abandon?.(value);
      release();
      return hold ? { value, release: noop } : value;
    }
    if (hold) return { value, release };
    release();
    return value;
  }

  #acquire(operation: Operation, signal: AbortSignal | undefined): Promise<() => void> {
    const bulk = this.#bulkhead as BulkheadPolicy;
    return new Promise((resolve, reject) => {
      let settled = false;
      // cockatiel drops an aborted waiter only when it reaches the head of the queue; the caller
      // is answered at once all the same.
      const onAbort = () => {
        if (settled) return;
        settled = true;
        reject(cancelledError(signal as AbortSignal, operation.what));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      bulk
        .execute(
          () =>
            new Promise<void>((free) => {
              signal?.removeEventListener("abort", onAbort);
              if (settled) free();
              else {
                settled = true;
                resolve(() => free());
              }
            }),
          signal,
        )
        .catch((error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          if (settled) return;
          settled = true;
          if (isBulkheadRejectedError(error)) {
            this.#emit({ type: "bulkhead-rejected", ...this.#source(operation) });
            reject(this.#fullError(operation, error));
          } else reject(signal?.aborted ? cancelledError(signal, operation.what) : error);
        });
    });
  }

  #source(operation: Operation): ResilienceEventSource {
    return { policy: this.name, port: operation.port, operation: operation.name };
  }

  #details(operation: Operation, rejection: ResilienceRejection, extra: Record<string, unknown> = {}) {
    return {
      resilience: rejection,
      policy: this.name,
      port: operation.port,
      operation: operation.name,
      ...extra,
    };
  }

  #openError(operation: Operation, breaker: CircuitBreakerPolicy): InfrastructureError {
    const last = breaker.lastFailure;
    return new InfrastructureError(
      "UNAVAILABLE",
      `${operation.what} was not attempted: the circuit breaker of policy "${this.name}" is open after repeated failures`,
      {
        cause: last !== undefined && "error" in last ? unwrapCounted(last.error) : undefined,
        retryable: true,
        details: this.#details(operation, "circuit-open"),
      },
    );
  }

  #fullError(operation: Operation, cause: unknown): InfrastructureError {
    return new InfrastructureError(
      "RESOURCE_EXHAUSTED",
      `${operation.what} was not attempted: the bulkhead of policy "${this.name}" has ${this.#maxConcurrent} calls running and ${this.#maxQueued} waiting`,
      { cause, retryable: true, details: this.#details(operation, "bulkhead-full") },
    );
  }

  #timeoutError(operation: Operation, started: boolean, cause: unknown): InfrastructureError {
    const ms = operation.timeoutMs as number;
    this.#emit({ type: "timeout", ...this.#source(operation), timeoutMs: ms, started });
    const details = this.#details(operation, "timeout", { timeoutMs: ms, started });
    if (started && !operation.idempotent) {
      return outcomeUnknownError(
        "TIMEOUT",
        `${operation.what} did not finish within ${ms} ms (policy "${this.name}"); it was aborted, but it may have taken effect`,
        { cause, details },
      );
    }
    return new InfrastructureError(
      "TIMEOUT",
      `${operation.what} did not finish within ${ms} ms (policy "${this.name}")${started ? "" : " while waiting for a bulkhead slot"}`,
      { cause, retryable: true, details },
    );
  }

  #emit(event: ResilienceEvent): void {
    const listener = this.#onEvent;
    if (listener === undefined) return;
    try {
      listener(event);
    } catch (error) {
      process.emitWarning(
        `@proj/resilience: the onEvent listener of policy "${this.name}" threw: ${String(error)}`,
      );
    }
  }
}

interface RetrySettings {
  policy: RetryPolicy;
  maxAttempts: number;
  budget: RetryBudget | undefined;
}

interface AttemptState {
  started: boolean;
  timer: AbortSignal | undefined;
}

function unwrapCounted(error: unknown): unknown {
  return error instanceof CountedFailure ? error.error : error;
}

/** A policy from options, for decorators given options instead of a policy. */
export function createResiliencePolicy(options: ResilienceOptions = {}): ResiliencePolicy {
  return new ResiliencePolicy(options);
}

/** The policy itself, or a new one made from options. */
export function policyOf(policy: ResiliencePolicy | ResilienceOptions | undefined): ResiliencePolicy {
  return policy instanceof ResiliencePolicy ? policy : new ResiliencePolicy(policy);
}
