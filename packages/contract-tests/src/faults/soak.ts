import { isInfrastructureError, isOutcomeUnknown } from "@proj/ports";
import type { FaultMode, FaultProxy } from "./fault-proxy.js";

/** One step of a soak's fault cycle: a proxy mode (with its options) and optional latency. */
export interface SoakFault {
  mode: FaultMode;
  afterBytes?: number;
  latencyMs?: number;
}

/** What a call under a soak ended as, from the caller's side. */
export type SoakOutcome = "ok" | "failed" | "unknown";

/**
 * Counts the calls of a soak: how each ended (by taxonomy code, unknown outcomes apart), how many
 * settled past their bound and by how much, and how many are still pending. A soak checks its
 * server-side ledger against the outcomes `run` returns.
 */
export class SoakCalls {
  calls = 0;
  succeeded = 0;
  late = 0;
  maxOverrunMs = 0;
  pending = 0;
  readonly failures = new Map<string, number>();

  /** Runs `call`, noting whether it settled within `boundMs`; never throws. */
  async run<T>(boundMs: number, call: () => Promise<T>): Promise<{ value?: T; outcome: SoakOutcome }> {
    const started = performance.now();
    this.calls += 1;
    this.pending += 1;
    try {
      const value = await call();
      this.succeeded += 1;
      return { value, outcome: "ok" };
    } catch (error) {
      const unknown = isOutcomeUnknown(error);
      const code = isInfrastructureError(error) ? error.code : "FOREIGN";
      const key = unknown ? `${code} (outcome unknown)` : code;
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      return { outcome: unknown ? "unknown" : "failed" };
    } finally {
      this.pending -= 1;
      const overrun = performance.now() - started - boundMs;
      if (overrun > 0) {
        this.late += 1;
        this.maxOverrunMs = Math.max(this.maxOverrunMs, overrun);
      }
    }
  }

  summary(): string {
    return (
      `calls ${this.calls}, succeeded ${this.succeeded}, failed by code ${JSON.stringify(Object.fromEntries(this.failures))}\n` +
      `calls settled past their deadline: ${this.late} (max overrun ${Math.round(this.maxOverrunMs)} ms)`
    );
  }
}

/**
 * Cycles `faults` through `proxy` until `until` (a `Date.now()` time): each fault for `phaseMs`,
 * then a healthy `phaseMs`. Returns the number of whole cycles. Leaves the proxy healed.
 */
export async function cycleFaults(
  proxy: FaultProxy,
  faults: readonly SoakFault[],
  phaseMs: number,
  until: number,
): Promise<number> {
  const wait = () =>
    new Promise((resolve) => setTimeout(resolve, Math.min(phaseMs, Math.max(0, until - Date.now()))));
  let phase = 0;
  while (Date.now() < until) {
    const fault = faults[phase % faults.length] ?? { mode: "pass" };
    proxy.setLatency(fault.latencyMs ?? 0);
    await proxy.set(fault.mode, { afterBytes: fault.afterBytes });
    await wait();
    await proxy.heal();
    await wait();
    phase += 1;
  }
  await proxy.heal();
  return Math.floor(phase / Math.max(1, faults.length));
}
