import {
  type DocumentDatabase,
  type ErrorCode,
  type InfrastructureError,
  isOutcomeUnknown,
  type JsonValue,
} from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../harness.js";
import { FaultProxy } from "./fault-proxy.js";
import { expectFailsWithin, expectRecoversWithin, expectSettlesWithin } from "./settle.js";

/**
 * The deadlines a `DocumentDatabase` adapter documents, as `create` configures them. Every bound of
 * the suite is derived from these, so an adapter without a default deadline fails instead of hanging.
 */
export interface DocumentFaultDeadlines {
  /** The deadline every call gets by default; it covers server selection, connecting and the wait. */
  readonly callMs: number;
  /** What the adapter may take past a deadline to settle. Default 0. */
  readonly settleMs?: number;
}

/** One adapter under test, reaching its server through the proxy, and the server's own view. */
export interface DocumentFaultSubject {
  /** The adapter, in a database of its own, reaching the server only through the proxy. */
  readonly db: DocumentDatabase;
  /**
   * Documents of `collection` in `db`'s database whose top-level fields equal `fields` (`id` is the
   * document id), counted on the server directly, never through `db`.
   */
  countOnServer(collection: string, fields?: Record<string, JsonValue>): Promise<number>;
  /** Closes `db` (also when the test already did) and removes its database where the server can. */
  destroy(): Promise<void>;
}

/** What a `DocumentDatabase` adapter hands `documentDatabaseFaultContract`. */
export interface DocumentFaultHarness {
  /** The real server the fault proxy relays to. */
  readonly target: { host: string; port: number };
  readonly deadlines: DocumentFaultDeadlines;
  /**
   * The most connections the adapter keeps open to its server once idle (its pool plus any
   * monitoring connections): after a fault, no more than this may stay open.
   */
  readonly maxIdleConnections: number;
  /** Builds the adapter pointed at `endpoint` (the proxy), with the deadlines above, in a fresh database. */
  create(endpoint: { host: string; port: number }): Promise<DocumentFaultSubject>;
}

/** Headroom on every bound: a loaded 2-core machine answers late, a hang never answers. */
const MARGIN_MS = 4_000;
const COLLECTION = "fault_items";
/** Network errors and deadlines: the only codes a fault may surface as. */
const FAULT_CODES: readonly ErrorCode[] = ["TIMEOUT", "UNAVAILABLE"];

/** Polls `probe` until `accept` holds or `boundMs` runs out; returns the last value seen. */
async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, boundMs: number) {
  const deadline = Date.now() + boundMs;
  let last = await probe();
  while (!accept(last) && Date.now() < deadline) {
    await sleep(100);
    last = await probe();
  }
  return last;
}

/** An ambiguous outcome is reported as such, and never as retryable. */
function expectUnknownOutcome(error: InfrastructureError): void {
  expect(isOutcomeUnknown(error), `outcome of: ${error.message}`).toBe(true);
  expect(error.retryable, "an unknown outcome is not retryable").toBe(false);
}

/** A failed write is either reported with an unknown outcome (not retryable) or known unapplied (retryable). */
function expectUnknownOrRetryable(error: InfrastructureError): void {
  const unknown = error.details.outcome === "unknown";
  expect(error.retryable, `retryable: ${error.message}`).toBe(!unknown);
}

/** A failed read is known to have changed nothing: it is retryable and not an unknown outcome. */
function expectRetryableRead(error: InfrastructureError): void {
  expect(isOutcomeUnknown(error), `outcome of: ${error.message}`).toBe(false);
  expect(error.retryable, `retryable: ${error.message}`).toBe(true);
}

/**
 * Certifies that a `DocumentDatabase` adapter holds under network faults: with a `FaultProxy`
 * between the adapter and its real server, each case checks that the call settles within a bound
 * derived from the adapter's documented deadlines with a taxonomy code, that no write was applied
 * twice (counted on the server), that a write whose answer was lost is reported with an unknown
 * outcome and not retryable, that the adapter serves again by itself once the fault ends without
 * keeping dead connections, and that an outage does not turn into a busy loop of reconnects.
 */
export function documentDatabaseFaultContract(name: string, harness: DocumentFaultHarness): void {
  const { callMs, settleMs = 0 } = harness.deadlines;
  /** A call that meets a fault settles within this. */
  const callBound = callMs + settleMs + MARGIN_MS;
  /** Once the fault ends, the adapter serves again within this. */
  const recoverBound = 2 * callBound;
  /** A test runs a handful of bounded steps. */
  const testTimeout = 6 * callBound + 10_000;

  describe(`DocumentDatabase faults: ${name}`, () => {
    let proxy: FaultProxy | undefined;
    let subject: DocumentFaultSubject | undefined;

    beforeEach(async () => {
      proxy = await FaultProxy.start({ target: harness.target });
      subject = await harness.create({ host: proxy.host, port: proxy.port });
      await subject.db.collection(COLLECTION).insertOne({ id: "seed", n: 0 });
    }, testTimeout);

    afterEach(async () => {
      await proxy?.heal().catch(() => undefined);
      await subject?.destroy();
      await proxy?.close();
      subject = undefined;
      proxy = undefined;
    }, testTimeout);

    const current = () => {
      if (proxy === undefined || subject === undefined) throw new Error("only inside a test");
      return { proxy, subject, items: subject.db.collection(COLLECTION) };
    };

    /** After the fault: serves reads and writes again by itself, without keeping dead connections. */
    async function expectHealed(): Promise<void> {
      const { proxy, items } = current();
      await proxy.heal();
      await expectRecoversWithin(() => items.count({}), recoverBound, { what: "a count after the fault" });
      const written = await expectSettlesWithin(
        items.insertOne({ n: 100 }),
        callBound,
        "a write after the fault",
      );
      expect(written.ok, written.ok ? "" : written.error.message).toBe(true);
      const open = await eventually(
        async () => proxy.openConnections,
        (count) => count <= harness.maxIdleConnections,
        recoverBound,
      );
      expect(open, "connections open once the adapter is idle again").toBeLessThanOrEqual(
        harness.maxIdleConnections,
      );
    }

    it(
      "added latency: reads and writes still succeed within the bound",
      async () => {
        const { proxy, subject, items } = current();
        proxy.setLatency(150);
        const written = await expectSettlesWithin(items.insertOne({ id: "slow", n: 1 }), callBound);
        expect(written.ok && written.value).toEqual({ id: "slow", n: 1 });
        const read = await expectSettlesWithin(items.findById("slow"), callBound);
        expect(read.ok && read.value).toEqual({ id: "slow", n: 1 });
        const updated = await expectSettlesWithin(
          items.updateOne({ id: "slow" }, { increment: { n: 1 } }),
          callBound,
        );
        expect(updated.ok && updated.value).toEqual({ matched: true });
        expect(await subject.countOnServer(COLLECTION, { id: "slow", n: 2 })).toBe(1);
        await expectHealed();
      },
      testTimeout,
    );

    it(
      "reset mid-request: a write fails within the bound and is not applied; a read fails retryable",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("cut-mid-request", { afterBytes: 16 });
        const write = await expectFailsWithin(
          items.insertOne({ id: "cut", n: 1 }),
          callBound,
          FAULT_CODES,
          "an insert cut mid-request",
        );
        // The adapter may not know how much of the request went out: either it says so, or it is retryable.
        expectUnknownOrRetryable(write);
        const read = await expectFailsWithin(
          items.findById("seed"),
          callBound,
          FAULT_CODES,
          "a read cut mid-request",
        );
        expectRetryableRead(read);
        await expectHealed();
        expect(await subject.countOnServer(COLLECTION, { id: "cut" })).toBe(0);
      },
      testTimeout,
    );

    it(
      "reset mid-response: a read fails retryable; a write the server applied is reported unknown, applied once",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("cut-mid-response", { afterBytes: 8 });
        const read = await expectFailsWithin(
          items.find({}),
          callBound,
          FAULT_CODES,
          "a read cut mid-response",
        );
        expectRetryableRead(read);
        // The write runs on a connection that works up to its answer.
        await proxy.heal();
        await expectRecoversWithin(() => items.count({}), recoverBound);
        await proxy.set("cut-mid-response", { afterBytes: 8 });
        const write = await expectFailsWithin(
          items.insertOne({ id: "half", n: 1 }),
          callBound,
          FAULT_CODES,
          "an insert whose answer is cut",
        );
        expectUnknownOutcome(write);
        await expectHealed();
        expect(await subject.countOnServer(COLLECTION, { id: "half" })).toBe(1);
      },
      testTimeout,
    );

    it(
      "half-open on an idle pooled connection: the next calls settle within the bound, then the adapter heals",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("silent");
        await sleep(200);
        const read = await expectFailsWithin(
          items.count({}),
          callBound,
          FAULT_CODES,
          "a read on a silent connection",
        );
        expectRetryableRead(read);
        const write = await expectFailsWithin(
          items.insertOne({ id: "quiet", n: 1 }),
          callBound,
          FAULT_CODES,
          "a write on a silent connection",
        );
        expectUnknownOrRetryable(write);
        await expectHealed();
        // Nothing reached the server while the network was silent.
        expect(await subject.countOnServer(COLLECTION, { id: "quiet" })).toBe(0);
      },
      testTimeout,
    );

    it(
      "half-open mid-query: a read whose request reached the server settles within the bound",
      async () => {
        const { proxy, items } = current();
        await items.count({});
        await proxy.set("lose-replies");
        const pending = items.find({});
        await sleep(300);
        await proxy.set("silent");
        const read = await expectFailsWithin(
          pending,
          callBound,
          FAULT_CODES,
          "a read that went silent mid-query",
        );
        expectRetryableRead(read);
        await expectHealed();
      },
      testTimeout,
    );

    it(
      "reply lost after insertOne was applied: outcome unknown, not retryable, applied once",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("lose-replies");
        const error = await expectFailsWithin(
          items.insertOne({ id: "lost", n: 1 }),
          callBound,
          FAULT_CODES,
          "an insert whose reply is lost",
        );
        expectUnknownOutcome(error);
        await expectHealed();
        expect(await subject.countOnServer(COLLECTION, { id: "lost" })).toBe(1);
      },
      testTimeout,
    );

    it(
      "reply lost after updateOne was applied: outcome unknown, not retryable, incremented once",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("lose-replies");
        const error = await expectFailsWithin(
          items.updateOne({ id: "seed" }, { increment: { n: 1 } }),
          callBound,
          FAULT_CODES,
          "an update whose reply is lost",
        );
        expectUnknownOutcome(error);
        await expectHealed();
        expect(await subject.countOnServer(COLLECTION, { id: "seed", n: 1 })).toBe(1);
      },
      testTimeout,
    );

    for (const mode of ["cut-on-reply-close", "cut-on-reply-reset"] as const) {
      it(
        `peer cuts the connection after a write was applied (${mode}): outcome unknown, never replayed`,
        async () => {
          const { proxy, subject, items } = current();
          await items.count({});
          await proxy.set(mode);
          const insert = await expectFailsWithin(
            items.insertOne({ id: "cut-reply", n: 1 }),
            callBound,
            FAULT_CODES,
            "an insert whose connection is cut on its reply",
          );
          expectUnknownOutcome(insert);
          await proxy.heal();
          await expectRecoversWithin(() => items.count({}), recoverBound);
          await proxy.set(mode);
          const update = await expectFailsWithin(
            items.updateOne({ id: "seed" }, { increment: { n: 1 } }),
            callBound,
            FAULT_CODES,
            "an update whose connection is cut on its reply",
          );
          expectUnknownOutcome(update);
          await expectHealed();
          expect(await subject.countOnServer(COLLECTION, { id: "cut-reply" })).toBe(1);
          expect(await subject.countOnServer(COLLECTION, { id: "seed", n: 1 })).toBe(1);
        },
        testTimeout,
      );
    }

    it(
      "full outage that comes back: calls fail within the bound, retryable or unknown, and the adapter serves again",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("outage");
        for (let round = 0; round < 3; round++) {
          const read = await expectFailsWithin(
            items.count({}),
            callBound,
            FAULT_CODES,
            "a read during an outage",
          );
          expectRetryableRead(read);
        }
        const write = await expectFailsWithin(
          items.insertOne({ id: "outage", n: 1 }),
          callBound,
          FAULT_CODES,
          "a write during an outage",
        );
        // A refused connection sends nothing: the adapter knows the write was not applied.
        expect(write.retryable, write.message).toBe(true);
        proxy.resetCounters();
        await expectHealed();
        // Coming back is not a storm of new connections.
        expect(proxy.acceptedConnections).toBeLessThanOrEqual(3 * harness.maxIdleConnections);
        expect(await subject.countOnServer(COLLECTION, { id: "outage" })).toBe(0);
      },
      testTimeout,
    );

    for (const [mode, counted] of [
      ["outage-reset", "rejectedConnections"],
      ["cut-mid-request", "acceptedConnections"],
    ] as const) {
      it(
        `${mode === "outage-reset" ? "an outage that resets every new connection" : "a server that resets every connection on its first bytes"}: calls fail within the bound, with no busy reconnect loop`,
        async () => {
          const { proxy, items } = current();
          await items.count({});
          await proxy.set(mode, { afterBytes: 0 });
          proxy.resetCounters();
          const watchMs = Math.max(3_000, callMs);
          const started = Date.now();
          while (Date.now() - started < watchMs) {
            const read = await expectFailsWithin(
              items.count({}),
              callBound,
              FAULT_CODES,
              `a read under ${mode}`,
            );
            expectRetryableRead(read);
          }
          // A few attempts per second at most (each call may try once, monitors back off), never thousands.
          const attempts = proxy[counted];
          const elapsed = Date.now() - started;
          expect(
            (attempts * 1_000) / elapsed,
            `${attempts} connection attempts in ${elapsed} ms`,
          ).toBeLessThan(50);
          await expectHealed();
        },
        testTimeout,
      );
    }

    it(
      "close() settles within the bound while the network is silent",
      async () => {
        const { proxy, subject, items } = current();
        await items.count({});
        await proxy.set("silent");
        const closed = await expectSettlesWithin(
          subject.db.close(),
          callBound,
          "close() on a silent network",
        );
        expect(closed.ok, closed.ok ? "" : closed.error.message).toBe(true);
        await proxy.heal();
        expect(
          await eventually(
            async () => proxy.openConnections,
            (count) => count === 0,
            recoverBound,
          ),
          "connections left open after close()",
        ).toBe(0);
      },
      testTimeout,
    );
  });
}
