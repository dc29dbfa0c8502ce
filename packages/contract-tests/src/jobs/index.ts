import { describe, it } from "vitest";
import { cancelChecks } from "./cancel.js";
import { deadLetterChecks } from "./dead-letters.js";
import { deliveryChecks } from "./delivery.js";
import { type JobCheck, type JobQueueHarness, runJobCheck } from "./harness.js";
import { idempotencyChecks } from "./idempotency.js";
import { leaseChecks } from "./lease.js";
import { lifecycleChecks } from "./lifecycle.js";
import { scaleChecks } from "./scale.js";
import { timingChecks } from "./timing.js";
import { validationChecks } from "./validation.js";

export type { JobQueueHarness } from "./harness.js";

/** Every check of the contract by group, in the order they run. */
export const jobQueueChecks: Readonly<Record<string, Readonly<Record<string, JobCheck>>>> = {
  delivery: deliveryChecks,
  "delay and retry": timingChecks,
  "dead letters and redrive": deadLetterChecks,
  idempotency: idempotencyChecks,
  cancel: cancelChecks,
  leases: leaseChecks,
  close: lifecycleChecks,
  "input and limits": validationChecks,
  scale: scaleChecks,
};

/** Per-test time limits: a broker on a loaded machine, with room for the check's own bounds. */
const TIMEOUT_MS = 60_000;
const SCALE_TIMEOUT_MS = 180_000;

/**
 * The `JobQueue` contract (packages/ports/src/jobs.ts): delivery and payload equality, the
 * concurrency limit, delay, retry with back-off and attempt numbers, dead letters (non-retryable
 * errors at once, `maxAttempts`), listing and redrive, lease renewal and lease expiry after a worker
 * process is killed with SIGKILL (a real child process, for shared adapters), the attempt of a
 * handler that kills its own process counted, idempotency keys
 * (sequential and concurrent), cancel, graceful close, payload validation and the size limit,
 * `CLOSED` after close, and 10,000 jobs through 4 workers with none lost. No check relies on the
 * order of deliveries.
 *
 * Timings are small (`leaseMs` 1–2 s, back-off 20–200 ms); every "no later than" bound is the
 * port's promise plus the harness's `resolutionMs` plus a second of scheduling slack. Each check
 * gets a fresh adapter and queue names of its own, and cleans up after itself.
 */
export function jobQueueContract(name: string, harness: JobQueueHarness): void {
  describe(`JobQueue contract: ${name}`, () => {
    for (const [group, checks] of Object.entries(jobQueueChecks)) {
      describe(group, () => {
        for (const [title, check] of Object.entries(checks)) {
          it(title, { timeout: group === "scale" ? SCALE_TIMEOUT_MS : TIMEOUT_MS }, (context) =>
            runJobCheck(harness, check, (reason) => context.skip(reason)),
          );
        }
      });
    }
  });
}
