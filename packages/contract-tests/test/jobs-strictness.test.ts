import { createMemoryJobQueue } from "@proj/adapter-memory";
import type { DeadLetter, JobHandler, JobQueue, JobWorker, JsonValue, Page } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { type JobCheck, type JobQueueHarness, runJobCheck } from "../src/jobs/harness.js";
import { jobQueueChecks } from "../src/jobs/index.js";

/*
 * The JobQueue checks must fail a queue that is wrong in one way each: the memory reference with
 * one deliberate flaw. The honest reference passes them all in jobs.test.ts.
 */

const checks: Readonly<Record<string, JobCheck>> = Object.assign({}, ...Object.values(jobQueueChecks));

function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof T];
      const value = Reflect.get(object, key, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

/** A harness of memory queues, each with `flaw` applied. */
function flawed(flaw: (honest: JobQueue) => Partial<JobQueue>): JobQueueHarness {
  return {
    create: async () => {
      const honest = createMemoryJobQueue();
      return overriding(honest, flaw(honest));
    },
    resolutionMs: 100,
  };
}

/** Wraps every handler the flawed queue's workers run. */
function wrappingHandlers(wrap: (handler: JobHandler<JsonValue>) => JobHandler<JsonValue>) {
  return (honest: JobQueue): Partial<JobQueue> => ({
    work: ((queue: string, handler: JobHandler<JsonValue>, options) =>
      honest.work(queue, wrap(handler), options)) as JobQueue["work"],
  });
}

/** Wraps every worker the flawed queue starts. */
function wrappingWorkers(wrap: (worker: JobWorker) => Partial<JobWorker>) {
  return (honest: JobQueue): Partial<JobQueue> => ({
    work: ((queue: string, handler: JobHandler<JsonValue>, options) => {
      const worker = honest.work(queue, handler, options);
      return overriding(worker, wrap(worker));
    }) as JobQueue["work"],
  });
}

const FLAWED: Record<string, { harness: JobQueueHarness; fails: string[] }> = {
  "ignores the worker's concurrency": {
    harness: flawed((honest) => ({
      work: ((queue, handler, options) =>
        honest.work(queue, handler, { ...options, concurrency: 1_000 })) as JobQueue["work"],
    })),
    fails: [
      "never runs more handlers at once than the worker's concurrency, and does use it",
      "runs one handler at a time by default",
    ],
  },
  "drops idempotency keys": {
    harness: flawed((honest) => ({
      enqueue: (queue, payload, options) =>
        honest.enqueue(queue, payload, { ...options, idempotencyKey: undefined }),
    })),
    fails: [
      "a second enqueue with the same key returns the first id, duplicate: true, and enqueues nothing",
      "concurrent enqueues with one key create one job: exactly one returns duplicate: false",
      "keeps a key after its job was cancelled or dead-lettered",
      "accepts keys of any Unicode up to 256 UTF-8 bytes and tells them apart exactly",
    ],
  },
  "checks idempotency keys only after an await (a race)": {
    harness: flawed((honest) => {
      const known = new Map<string, string>();
      return {
        enqueue: async (queue, payload, options = {}) => {
          const key =
            options.idempotencyKey === undefined ? undefined : `${queue}\n${options.idempotencyKey}`;
          const earlier = key === undefined ? undefined : known.get(key);
          if (earlier !== undefined) return { id: earlier, duplicate: true };
          await new Promise((resolve) => setTimeout(resolve, 5));
          const result = await honest.enqueue(queue, payload, { ...options, idempotencyKey: undefined });
          if (key !== undefined) known.set(key, result.id);
          return result;
        },
      };
    }),
    fails: ["concurrent enqueues with one key create one job: exactly one returns duplicate: false"],
  },
  "never redelivers a failed job (a thrown error acknowledges it)": {
    harness: flawed(
      wrappingHandlers((handler) => async (job) => {
        await handler(job).catch(() => undefined);
      }),
    ),
    fails: [
      "retries a failed attempt as a new delivery with attempt + 1, after at most the back-off",
      "dead-letters a job at once on a non-retryable error, keeping payload, attempts and the error",
      "dead-letters a job whose last attempt fails, after exactly maxAttempts deliveries",
      "hands each delivery a copy: changing the enqueued value or a delivered one changes no job",
    ],
  },
  "retries a non-retryable error like any other": {
    harness: flawed(
      wrappingHandlers((handler) => async (job) => {
        try {
          await handler(job);
        } catch (error) {
          throw Object.assign(new Error(error instanceof Error ? error.message : String(error)), {
            retryable: true,
          });
        }
      }),
    ),
    fails: [
      "dead-letters a job at once on a non-retryable error, keeping payload, attempts and the error",
      "treats any error marked retryable: false as final, and records INTERNAL for a non-taxonomy error",
    ],
  },
  "acknowledges every redelivery unseen": {
    harness: flawed(
      wrappingHandlers((handler) => async (job) => (job.attempt > 1 ? undefined : handler(job))),
    ),
    fails: [
      "retries a failed attempt as a new delivery with attempt + 1, after at most the back-off",
      "worker.close() past its deadline fires the handler's signal (CLOSED) and releases the job to another worker",
    ],
  },
  "numbers every attempt 1": {
    harness: flawed(wrappingHandlers((handler) => (job) => handler({ ...job, attempt: 1 }))),
    fails: [
      "retries a failed attempt as a new delivery with attempt + 1, after at most the back-off",
      "worker.close() past its deadline fires the handler's signal (CLOSED) and releases the job to another worker",
    ],
  },
  "ignores delayMs": {
    harness: flawed((honest) => ({
      enqueue: (queue, payload, options) => honest.enqueue(queue, payload, { ...options, delayMs: 0 }),
    })),
    fails: ["holds a delayed job back at least delayMs and delivers it within resolutionMs after"],
  },
  "retries at once, whatever the back-off": {
    harness: flawed((honest) => ({
      work: ((queue, handler, options) =>
        honest.work(queue, handler, { ...options, backoff: { initialMs: 1, maxMs: 1 } })) as JobQueue["work"],
    })),
    fails: ["waits out the back-off before a retry (a long back-off holds retries back)"],
  },
  "hands the handler the very object enqueued": {
    harness: flawed((honest) => {
      const originals = new Map<string, JsonValue>();
      return {
        enqueue: async (queue, payload, options) => {
          const result = await honest.enqueue(queue, payload, options);
          originals.set(result.id, payload);
          return result;
        },
        work: ((queue: string, handler: JobHandler<JsonValue>, options) =>
          honest.work(
            queue,
            (job) => handler({ ...job, payload: originals.get(job.id) ?? job.payload }),
            options,
          )) as JobQueue["work"],
      };
    }),
    fails: ["hands each delivery a copy: changing the enqueued value or a delivered one changes no job"],
  },
  "says it cancelled without cancelling": {
    harness: flawed(() => ({ cancel: async () => true })),
    fails: [
      "cancels a delayed job: true, then it is never delivered",
      "cancels a queued job before a worker takes it",
      "cancels a running job: true, its signal fires with CANCELLED, and it is never delivered again",
      "returns false for an unknown id, a finished job and a dead letter",
    ],
  },
  "says it offers no cancel, yet cancels": {
    harness: flawed((honest) => ({ capabilities: { ...honest.capabilities, cancel: false } })),
    fails: ["fails cancel with NOT_SUPPORTED when capabilities.cancel is false, and the job still runs"],
  },
  "cancels a running job without telling its handler": {
    harness: flawed(
      wrappingHandlers((handler) => (job) => {
        const blind = new AbortController();
        job.signal.addEventListener("abort", () => {
          if ((job.signal.reason as { code?: string }).code !== "CANCELLED") blind.abort(job.signal.reason);
        });
        return handler({ ...job, signal: blind.signal });
      }),
    ),
    fails: ["cancels a running job: true, its signal fires with CANCELLED, and it is never delivered again"],
  },
  "close() of a worker does not wait for its handlers": {
    harness: flawed(wrappingWorkers((worker) => ({ close: () => worker.close({ deadlineMs: 0 }) }))),
    fails: ["worker.close() stops taking jobs and waits for the running handler, which is acknowledged"],
  },
  "ignores the worker's signal": {
    harness: flawed((honest) => ({
      work: ((queue, handler, options) =>
        honest.work(queue, handler, { ...options, signal: undefined })) as JobQueue["work"],
    })),
    fails: ["aborting the work signal closes the worker: it takes no more jobs"],
  },
  "keeps working after close()": {
    harness: flawed(() => ({ close: async () => undefined, [Symbol.asyncDispose]: async () => undefined })),
    fails: [
      "fails every call with CLOSED after close(); close() is idempotent and Symbol.asyncDispose closes",
    ],
  },
  "redrive says true without redriving": {
    harness: flawed(() => ({ redrive: async () => true })),
    fails: [
      "redrives a dead letter: true, gone from the list, delivered again with a fresh set of attempts",
      "redrive returns false for an unknown id and for a job that is not a dead letter",
    ],
  },
  "dead letters forget the error": {
    harness: flawed((honest) => ({
      listDeadLetters: async (queue, options) => {
        const page = await honest.listDeadLetters(queue, options);
        return {
          ...page,
          items: page.items.map((dead) => ({ ...dead, error: { code: "INTERNAL", message: "" } })),
        };
      },
    })),
    fails: ["dead-letters a job at once on a non-retryable error, keeping payload, attempts and the error"],
  },
  "lists every dead letter on one page": {
    harness: flawed((honest) => ({
      listDeadLetters: async (queue, options): Promise<Page<DeadLetter>> => ({
        items: (await honest.listDeadLetters(queue, { ...options, limit: 1_000 })).items,
      }),
    })),
    fails: ["lists dead letters page by page, each once, and only the queue's own"],
  },
  "turns a non-JSON payload into JSON instead of refusing it": {
    harness: flawed((honest) => ({
      enqueue: (queue, payload, options) => {
        let coerced: JsonValue = null;
        try {
          coerced = JSON.parse(JSON.stringify(payload) ?? "null") as JsonValue;
        } catch {
          coerced = "unserialisable";
        }
        return honest.enqueue(queue, coerced, options);
      },
    })),
    fails: ["refuses a payload outside JSON with INVALID_ARGUMENT, and enqueues nothing"],
  },
  "states a payload limit it does not enforce": {
    harness: flawed((honest) => ({ capabilities: { ...honest.capabilities, maxPayloadBytes: 4_096 } })),
    fails: ["accepts a payload of exactly maxPayloadBytes and refuses one byte more with RESOURCE_EXHAUSTED"],
  },
  "remembers idempotency keys for an hour only": {
    harness: {
      create: async () => createMemoryJobQueue({ idempotencyWindowMs: 3_600_000 }),
      resolutionMs: 100,
    },
    fails: ["states an idempotency window of at least 24 hours and a positive payload limit"],
  },
  "loses one job in a thousand": {
    harness: flawed(
      wrappingHandlers((handler) => {
        let deliveries = 0;
        return async (job) => {
          deliveries += 1;
          if (deliveries % 1_000 !== 0) await handler(job);
        };
      }),
    ),
    fails: ["hands 10,000 jobs through 4 workers: every job handled, none lost, in whatever order"],
  },
};

const cases = Object.entries(FLAWED).flatMap(([flaw, { harness, fails }]) =>
  fails.map((check) => [flaw, check, harness] as const),
);

describe("the JobQueue checks fail a deliberately flawed queue", () => {
  it("every check named below exists", () => {
    for (const [, check] of cases) expect(Object.keys(checks)).toContain(check);
  });

  it.concurrent.each(cases)("%s: fails “%s”", { timeout: 120_000 }, async (_flaw, check, harness) => {
    await expect(runJobCheck(harness, checks[check]!)).rejects.toThrow();
  });
});
