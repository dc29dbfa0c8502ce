import {
  ERROR_CODES,
  type ErrorCode,
  InfrastructureError,
  outcomeUnknownError,
  type TokenFailureReason,
  UnauthenticatedError,
} from "@proj/ports";
import { CHAOS_OPERATIONS, CHAOS_PORTS, type ChaosPort } from "./operations.js";
import { mulberry32, ruleSeed, seedOf } from "./random.js";

/** The error a rule injects, when a code alone does not say enough. */
export interface ChaosErrorSpec {
  code: ErrorCode;
  /** Default: says which rule injected it into which operation. */
  message?: string;
  /** Default: the taxonomy's default for the code (`TIMEOUT`, `UNAVAILABLE`, `RESOURCE_EXHAUSTED`). */
  retryable?: boolean;
  /**
   * `"unknown"`: the error says the call's effect is unknown (`details.outcome`, never retryable), as
   * an adapter reports a reply that was lost. Only with `TIMEOUT`, `UNAVAILABLE` or `CANCELLED`.
   */
  outcome?: "unknown";
  /** For `UNAUTHENTICATED`: the refusal's reason (default `"bad_signature"`). */
  reason?: TokenFailureReason;
}

/** When a rule is active, on the chaos clock (milliseconds since it was created or `reset`). */
export interface ChaosSchedule {
  /** Start of the first window (default 0). */
  afterMs?: number;
  /** Length of the window (default: no end). */
  forMs?: number;
  /** The window comes back every `everyMs` from its start (needs `forMs` ≤ `everyMs`). */
  everyMs?: number;
}

/**
 * One kind of fault. A call matches a rule when its port, operation and key match (an absent field
 * matches everything) and the schedule is active; the rule then fires with probability `rate`,
 * drawn from the rule's own seeded sequence.
 */
export interface ChaosRule {
  /** Names the rule in injected errors and records (default `rule <n>`, from 1). */
  name?: string;
  ports?: ChaosPort | readonly ChaosPort[];
  operations?: string | readonly string[];
  /**
   * The key, path, queue, tenant id or statement text the call is about (see the README's table),
   * as a glob (`*` any characters, `?` one), a RegExp or a predicate. A rule with `keys` never
   * matches a call that has no key.
   */
  keys?: string | RegExp | ((key: string) => boolean);
  /** Probability of firing on a matching call, 0 to 1 (default 1). */
  rate?: number;
  /** Fires at most this many times (until `reset`). */
  times?: number;
  schedule?: ChaosSchedule;
  /** Delay before the call: a fixed time or a `[min, max]` range drawn uniformly, in milliseconds. */
  latencyMs?: number | readonly [number, number];
  /** The error to inject: a code, or a full description. */
  error?: ErrorCode | ChaosErrorSpec;
  /**
   * `"before"` (default): the call fails without reaching the adapter. `"after"`: the adapter does
   * the work, then the caller gets the error instead of the answer (a reply lost on the way back;
   * on a stream, the error comes after the last item).
   */
  phase?: "before" | "after";
}

export interface ChaosOptions {
  /** Seed of every rule's sequence (default: a random one, readable as `chaos.seed` to replay a run). */
  seed?: number | string;
  rules: readonly ChaosRule[];
  /** The clock schedules follow, in milliseconds (default `performance.now`). */
  now?: () => number;
  /** Injections kept in `injections` (default 10,000; later ones are counted, not kept). */
  maxRecorded?: number;
}

/** One fault injected into one call. */
export interface ChaosInjection {
  rule: string;
  port: ChaosPort;
  operation: string;
  /** The call's key (the first one, for calls about several). */
  key?: string;
  /** When, on the chaos clock. */
  at: number;
  /** The delay injected, when the rule has a latency. */
  latencyMs?: number;
  /** The error injected, when the rule has one. */
  error?: InfrastructureError;
  /** True when the call's signal fired during the injected delay, cutting it short. */
  cancelled: boolean;
}

/** @internal What one call gets. */
export interface Decision {
  latencyMs: number;
  before: InfrastructureError | undefined;
  after: InfrastructureError | undefined;
  records: ChaosInjection[];
}

/** @internal A call's key or keys, computed only when a rule filters on keys. */
export type KeySource = () => string | readonly string[] | undefined;

interface CompiledRule {
  readonly index: number;
  readonly name: string;
  readonly ports: ReadonlySet<ChaosPort> | undefined;
  readonly operations: ReadonlySet<string> | undefined;
  readonly matchKey: ((key: string) => boolean) | undefined;
  readonly rate: number;
  readonly times: number;
  readonly schedule: Required<Pick<ChaosSchedule, "afterMs">> & ChaosSchedule;
  readonly latency: readonly [number, number] | undefined;
  readonly error: ChaosErrorSpec | undefined;
  readonly phase: "before" | "after";
  random: () => number;
  fired: number;
}

const RULE_KEYS = new Set([
  "name",
  "ports",
  "operations",
  "keys",
  "rate",
  "times",
  "schedule",
  "latencyMs",
  "error",
  "phase",
]);
const OUTCOME_CODES = new Set<ErrorCode>(["TIMEOUT", "UNAVAILABLE", "CANCELLED"]);

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, { retryable: false });
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function globToRegExp(glob: string): RegExp {
  let source = "";
  for (const char of glob) {
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "u");
}

function keyMatcher(keys: ChaosRule["keys"], where: string): ((key: string) => boolean) | undefined {
  if (keys === undefined) return undefined;
  if (typeof keys === "function") return keys;
  if (keys instanceof RegExp) {
    // A global or sticky RegExp keeps state between tests; a copy without those flags does not.
    const pattern = new RegExp(keys.source, keys.flags.replace(/[gy]/g, ""));
    return (key) => pattern.test(key);
  }
  if (typeof keys === "string") {
    const pattern = globToRegExp(keys);
    return (key) => pattern.test(key);
  }
  throw invalid(`${where}.keys must be a glob string, a RegExp or a function`);
}

function nonNegative(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw invalid(`${what} must be a finite number ≥ 0`);
  return value;
}

function compileRule(rule: ChaosRule, index: number, random: () => number): CompiledRule {
  const where = `rules[${index}]`;
  if (typeof rule !== "object" || rule === null) throw invalid(`${where} must be an object`);
  for (const key of Object.keys(rule))
    if (!RULE_KEYS.has(key)) throw invalid(`${where} has an unknown field "${key}"`);
  const ports = list(rule.ports);
  for (const port of ports ?? [])
    if (!CHAOS_PORTS.includes(port)) throw invalid(`${where}.ports names an unknown port "${String(port)}"`);
  const operations = list(rule.operations);
  const known = new Set((ports ?? CHAOS_PORTS).flatMap((port) => CHAOS_OPERATIONS[port]));
  for (const operation of operations ?? [])
    if (!known.has(operation))
      throw invalid(`${where}.operations names "${String(operation)}", which no port it applies to has`);
  const rate = rule.rate ?? 1;
  if (typeof rate !== "number" || !(rate >= 0 && rate <= 1))
    throw invalid(`${where}.rate must be between 0 and 1`);
  const times = rule.times ?? Number.POSITIVE_INFINITY;
  if (times !== Number.POSITIVE_INFINITY && (!Number.isInteger(times) || times < 1))
    throw invalid(`${where}.times must be a positive integer`);
  let latency: readonly [number, number] | undefined;
  if (rule.latencyMs !== undefined) {
    if (Array.isArray(rule.latencyMs)) {
      const [min, max] = rule.latencyMs as readonly [number, number];
      latency = [nonNegative(min, `${where}.latencyMs[0]`), nonNegative(max, `${where}.latencyMs[1]`)];
      if (latency[0] > latency[1]) throw invalid(`${where}.latencyMs must be [min, max] with min ≤ max`);
    } else {
      const fixed = nonNegative(rule.latencyMs, `${where}.latencyMs`);
      latency = [fixed, fixed];
    }
  }
  let error: ChaosErrorSpec | undefined;
  if (rule.error !== undefined) {
    error = typeof rule.error === "string" ? { code: rule.error } : rule.error;
    if (typeof error !== "object" || error === null || !ERROR_CODES.includes(error.code))
      throw invalid(`${where}.error must be a taxonomy code or { code, ... } with one`);
    if (error.outcome !== undefined && (error.outcome !== "unknown" || !OUTCOME_CODES.has(error.code)))
      throw invalid(`${where}.error.outcome "unknown" goes with TIMEOUT, UNAVAILABLE or CANCELLED only`);
  }
  if (latency === undefined && error === undefined)
    throw invalid(`${where} injects nothing: give latencyMs or error`);
  const phase = rule.phase ?? "before";
  if (phase !== "before" && phase !== "after") throw invalid(`${where}.phase must be "before" or "after"`);
  const schedule = rule.schedule ?? {};
  const afterMs = nonNegative(schedule.afterMs ?? 0, `${where}.schedule.afterMs`);
  if (schedule.forMs !== undefined) nonNegative(schedule.forMs, `${where}.schedule.forMs`);
  if (schedule.everyMs !== undefined) {
    const every = nonNegative(schedule.everyMs, `${where}.schedule.everyMs`);
    if (schedule.forMs === undefined || every === 0 || schedule.forMs > every)
      throw invalid(`${where}.schedule.everyMs needs forMs, with 0 < forMs ≤ everyMs`);
  }
  return {
    index,
    name: rule.name ?? `rule ${index + 1}`,
    ports: ports && new Set(ports),
    operations: operations && new Set(operations),
    matchKey: keyMatcher(rule.keys, where),
    rate,
    times,
    schedule: { ...schedule, afterMs },
    latency,
    error,
    phase,
    random,
    fired: 0,
  };
}

function active(schedule: CompiledRule["schedule"], elapsed: number): boolean {
  const since = elapsed - schedule.afterMs;
  if (since < 0) return false;
  if (schedule.forMs === undefined) return true;
  if (schedule.everyMs === undefined) return since < schedule.forMs;
  return since % schedule.everyMs < schedule.forMs;
}

/**
 * Fault injection for tests: latency and taxonomy errors by port, operation, key, rate and
 * schedule, from a seed. The same seed and the same sequence of calls give the same faults: each
 * rule draws from its own sequence, and only for calls it matches, so traffic a rule does not match
 * never shifts what it does.
 */
export class Chaos {
  /** The seed in use: print it when a test fails, and pass it back to replay the same faults. */
  readonly seed: number;
  /** Injections stop while false; calls then go straight to the adapter. */
  enabled = true;
  readonly #rules: CompiledRule[];
  readonly #now: () => number;
  readonly #maxRecorded: number;
  #start: number;
  #records: ChaosInjection[] = [];
  #count = 0;

  constructor(options: ChaosOptions) {
    if (typeof options !== "object" || options === null || !Array.isArray(options.rules))
      throw invalid("chaos options need rules: an array of rules");
    if (options.seed !== undefined && typeof options.seed !== "number" && typeof options.seed !== "string")
      throw invalid("chaos seed must be a number or a string");
    this.seed = options.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : seedOf(options.seed);
    this.#now = options.now ?? (() => performance.now());
    this.#maxRecorded = options.maxRecorded ?? 10_000;
    if (!Number.isInteger(this.#maxRecorded) || this.#maxRecorded < 0)
      throw invalid("chaos maxRecorded must be a non-negative integer");
    this.#rules = options.rules.map((rule, index) =>
      compileRule(rule, index, mulberry32(ruleSeed(this.seed, index))),
    );
    this.#start = this.#now();
  }

  /** The injections so far, oldest first (at most `maxRecorded` of them). */
  get injections(): readonly ChaosInjection[] {
    return this.#records;
  }

  /** How many injections there were, recorded or not. */
  get injectedCount(): number {
    return this.#count;
  }

  /** Milliseconds on the chaos clock: since creation or the last `reset`. */
  elapsed(): number {
    return this.#now() - this.#start;
  }

  /** Starts over: schedules from now, every rule's sequence from the seed, `times` and records from zero. */
  reset(): void {
    this.#start = this.#now();
    this.#records = [];
    this.#count = 0;
    for (const rule of this.#rules) {
      rule.random = mulberry32(ruleSeed(this.seed, rule.index));
      rule.fired = 0;
    }
  }

  /** @internal The rules that may apply to one operation of one port, resolved once per decorator. */
  site(port: ChaosPort, operation: string): Site {
    const rules = this.#rules.filter(
      (rule) =>
        (rule.ports === undefined || rule.ports.has(port)) &&
        (rule.operations === undefined || rule.operations.has(operation)),
    );
    return new Site(this, port, operation, rules);
  }

  /** @internal */
  decide(site: Site, rules: readonly CompiledRule[], keys: KeySource | undefined): Decision | undefined {
    if (!this.enabled) return undefined;
    let decision: Decision | undefined;
    let elapsed: number | undefined;
    let keyList: readonly string[] | undefined;
    let keysRead = false;
    for (const rule of rules) {
      if (rule.fired >= rule.times) continue;
      let key: string | undefined;
      if (rule.matchKey !== undefined) {
        if (!keysRead) {
          keysRead = true;
          keyList = keyListOf(keys?.());
        }
        key = keyList?.find(rule.matchKey);
        if (key === undefined) continue;
      }
      elapsed ??= this.elapsed();
      if (!active(rule.schedule, elapsed)) continue;
      if (rule.random() >= rule.rate) continue;
      rule.fired += 1;
      decision ??= { latencyMs: 0, before: undefined, after: undefined, records: [] };
      const record: ChaosInjection = {
        rule: rule.name,
        port: site.port,
        operation: site.operation,
        at: elapsed,
        cancelled: false,
      };
      if (!keysRead) {
        keysRead = true;
        keyList = keyListOf(keys?.());
      }
      const recorded = key ?? keyList?.[0];
      if (recorded !== undefined) record.key = recorded;
      if (rule.latency !== undefined) {
        const [min, max] = rule.latency;
        const latencyMs = min === max ? min : min + rule.random() * (max - min);
        record.latencyMs = latencyMs;
        decision.latencyMs += latencyMs;
      }
      if (rule.error !== undefined) {
        const slot = rule.phase === "before" ? "before" : "after";
        if (decision[slot] === undefined) {
          const error = injectedError(rule, site);
          record.error = error;
          decision[slot] = error;
        }
      }
      this.#count += 1;
      if (this.#records.length < this.#maxRecorded) this.#records.push(record);
      decision.records.push(record);
    }
    return decision;
  }
}

/** The call's keys as strings; whatever is not a string (hostile input the adapter will refuse) is no key. */
function keyListOf(value: unknown): readonly string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return undefined;
  return value.filter((key): key is string => typeof key === "string");
}

function injectedError(rule: CompiledRule, site: Site): InfrastructureError {
  const spec = rule.error as ChaosErrorSpec;
  const message =
    spec.message ??
    `${site.port}.${site.operation}: ${spec.code} injected by @proj/chaos (rule "${rule.name}")`;
  const details = { injected: true, rule: rule.name, port: site.port, operation: site.operation };
  if (spec.outcome === "unknown")
    return outcomeUnknownError(spec.code as "TIMEOUT" | "UNAVAILABLE" | "CANCELLED", message, { details });
  if (spec.code === "UNAUTHENTICATED")
    return new UnauthenticatedError(spec.reason ?? "bad_signature", message, { details });
  return new InfrastructureError(
    spec.code,
    message,
    spec.retryable === undefined ? { details } : { details, retryable: spec.retryable },
  );
}

/** @internal The rules for one operation of one decorated port. */
export class Site {
  readonly what: string;
  constructor(
    readonly chaos: Chaos,
    readonly port: ChaosPort,
    readonly operation: string,
    readonly rules: readonly CompiledRule[],
  ) {
    this.what = `${port}.${operation}`;
  }

  decide(keys?: KeySource): Decision | undefined {
    if (this.rules.length === 0) return undefined;
    return this.chaos.decide(this, this.rules, keys);
  }
}

/** A chaos from options. */
export function createChaos(options: ChaosOptions): Chaos {
  return new Chaos(options);
}

/** The chaos itself, or a new one made from options. */
export function chaosOf(chaos: Chaos | ChaosOptions): Chaos {
  return chaos instanceof Chaos ? chaos : new Chaos(chaos);
}
