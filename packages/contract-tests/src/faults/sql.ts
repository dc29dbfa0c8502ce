import { type InfrastructureError, isOutcomeUnknown, type SqlDatabase, sql } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep, uniqueName } from "../harness.js";
import { Inbox, listenOf, notify } from "../sql/notifications.js";
import { FaultProxy } from "./fault-proxy.js";
import { expectFailsWithin, expectRecoversWithin, expectSettlesWithin } from "./settle.js";

/**
 * The deadlines an adapter documents, as `create` configures them. The suite derives every bound
 * from these: a call under a fault must settle within `acquireMs + callMs + settleMs` (plus a
 * margin for a loaded machine), so an adapter without a default deadline fails instead of hanging.
 */
export interface SqlFaultDeadlines {
  /** How long a call may wait for a connection (pool wait and connect). */
  readonly acquireMs: number;
  /** The deadline every call gets by default: a statement, one stream fetch, a COMMIT. */
  readonly callMs: number;
  /** What the adapter may take past a deadline to settle (e.g. a cancel's grace period). Default 0. */
  readonly settleMs?: number;
}

/** One adapter under test, connected through the proxy, and the server's view of it. */
export interface SqlFaultSubject {
  /** The adapter, in a namespace of its own, reaching the server only through the proxy. */
  readonly db: SqlDatabase;
  /** Rows of `table` in `db`'s namespace, counted on the server directly (never through `db`). */
  countRows(table: string): Promise<number>;
  /** Sessions of `db` the server sees inside a transaction (idle in transaction included). */
  openTransactions(): Promise<number>;
  /** Locks the server sees held by sessions of `db`. */
  heldLocks(): Promise<number>;
  /** Closes `db` (also when the test already did) and drops its namespace. */
  destroy(): Promise<void>;
}

/** What a `SqlDatabase` adapter hands `sqlFaultContract`. */
export interface SqlFaultHarness {
  /** The real server the fault proxy relays to. */
  readonly target: { host: string; port: number };
  readonly deadlines: SqlFaultDeadlines;
  /**
   * False when `stream()` reads a result the server sends in one go, with no fetch round trips
   * (MySQL's protocol): the case's small result is already in the socket buffers when the network
   * goes silent, so it cannot fault the stream. Such an adapter proves the case in its own tests
   * with a result larger than the buffers. Default true.
   */
  readonly streamFetchesInBatches?: boolean;
  /**
   * The adapter offers `listen()` (`capabilities.notifications`): the case of a listener whose
   * connection is cut runs. Skipped visibly otherwise.
   */
  readonly notifications?: boolean;
  /**
   * Builds the adapter pointed at `endpoint` (the proxy) with `poolSize` connections and the
   * deadlines above, in a fresh, empty namespace of its own.
   */
  create(endpoint: { host: string; port: number }, options: { poolSize: number }): Promise<SqlFaultSubject>;
}

/** Headroom on every bound: a loaded 2-core machine answers late, a hang never answers. */
const MARGIN_MS = 4_000;
const POOL_SIZE = 2;
const TABLE = "fault_items";

const insertItem = (id: number) =>
  sql`INSERT INTO ${sql.id(TABLE)} (id, label) VALUES (${id}, ${`item ${id}`})`;
const selectItems = sql`SELECT id, label FROM ${sql.id(TABLE)} ORDER BY id`;

/** Polls `probe` until it returns `expected` or `boundMs` runs out; returns the last value seen. */
async function eventually<T>(probe: () => Promise<T>, expected: T, boundMs: number): Promise<T> {
  const deadline = Date.now() + boundMs;
  let last = await probe();
  while (last !== expected && Date.now() < deadline) {
    await sleep(100);
    last = await probe();
  }
  return last;
}

/**
 * Certifies that a `SqlDatabase` adapter holds under network faults: with a `FaultProxy` between the
 * adapter and its real server, each case checks that the call settles within a bound derived from
 * the adapter's documented deadlines with the right taxonomy code, that nothing ran twice (counted
 * on the server), that an ambiguous outcome is reported as unknown and not retryable, that no
 * connection or pool slot stays held, that the adapter serves again by itself once the fault ends,
 * and that the server is left with no open transaction and no lock.
 */
export function sqlFaultContract(name: string, harness: SqlFaultHarness): void {
  const { acquireMs, callMs, settleMs = 0 } = harness.deadlines;
  /** A call that meets a fault settles within this. */
  const callBound = acquireMs + callMs + settleMs + MARGIN_MS;
  /** Once the fault ends, the adapter serves again within this. */
  const recoverBound = 2 * callBound;
  /** A test runs a handful of bounded steps. */
  const testTimeout = 6 * callBound + 10_000;

  describe(`SqlDatabase faults: ${name}`, () => {
    let proxy: FaultProxy | undefined;
    let subject: SqlFaultSubject | undefined;

    beforeEach(async () => {
      proxy = await FaultProxy.start({ target: harness.target });
      subject = await harness.create({ host: proxy.host, port: proxy.port }, { poolSize: POOL_SIZE });
      await subject.db.execute(
        sql`CREATE TABLE ${sql.id(TABLE)} (id INTEGER PRIMARY KEY, label VARCHAR(100) NOT NULL)`,
      );
    }, testTimeout);

    afterEach(async () => {
      await proxy?.heal().catch(() => undefined);
      await subject?.destroy();
      await proxy?.close();
      subject = undefined;
      proxy = undefined;
    }, testTimeout);

    const current = (): { proxy: FaultProxy; subject: SqlFaultSubject; db: SqlDatabase } => {
      if (proxy === undefined || subject === undefined) throw new Error("only inside a test");
      return { proxy, subject, db: subject.db };
    };

    /** Opens `POOL_SIZE` connections and leaves them idle in the pool. */
    async function warmPool(db: SqlDatabase): Promise<void> {
      await Promise.all(
        Array.from({ length: POOL_SIZE }, () =>
          db.transaction(async (tx) => {
            await tx.query(sql`SELECT 1 AS one`);
            await sleep(50);
          }),
        ),
      );
    }

    /**
     * Runs the test's INSERT once on every pooled connection (and removes the rows), so that an
     * adapter preparing statements in a round trip of their own (MySQL's binary protocol) has it
     * prepared: the fault then meets the INSERT itself, not its PREPARE.
     */
    async function warmInsert(db: SqlDatabase): Promise<void> {
      await Promise.all(Array.from({ length: POOL_SIZE }, (_, index) => db.execute(insertItem(-1 - index))));
      await db.execute(sql`DELETE FROM ${sql.id(TABLE)} WHERE id < 0`);
    }

    /** After the fault: serves again by itself, every pool slot free, nothing left on the server. */
    async function expectHealed(): Promise<void> {
      const { proxy, db } = current();
      await proxy.heal();
      await expectRecoversWithin(() => db.query(sql`SELECT 1 AS one`), recoverBound);
      // Every pool slot at once: each transaction holds its connection until all of them hold one,
      // so a slot still held by a failed call leaves one waiting and the barrier never completes.
      let holding = 0;
      let allHolding!: () => void;
      const barrier = new Promise<void>((resolve) => {
        allHolding = resolve;
      });
      const settled = await expectSettlesWithin(
        Promise.all(
          Array.from({ length: POOL_SIZE }, () =>
            db.transaction(async (tx) => {
              await tx.query(selectItems);
              holding += 1;
              if (holding === POOL_SIZE) allHolding();
              await Promise.race([barrier, sleep(callBound)]);
            }),
          ),
        ),
        2 * callBound,
        "one transaction on every pool slot after the fault",
      );
      expect(settled.ok, settled.ok ? "" : settled.error.message).toBe(true);
      expect(holding, "transactions holding a connection at once").toBe(POOL_SIZE);
      expect(proxy.openConnections).toBeLessThanOrEqual(POOL_SIZE);
      await expectServerClean();
    }

    async function expectServerClean(): Promise<void> {
      const { subject } = current();
      expect(await eventually(() => subject.openTransactions(), 0, recoverBound), "open transactions").toBe(
        0,
      );
      expect(await eventually(() => subject.heldLocks(), 0, recoverBound), "held locks").toBe(0);
    }

    /** An ambiguous outcome is reported as such, and never as retryable. */
    function expectUnknownOutcome(error: InfrastructureError): void {
      expect(isOutcomeUnknown(error), `outcome of: ${error.message}`).toBe(true);
      expect(error.retryable).toBe(false);
    }

    it(
      "added latency: calls and transactions still succeed, within the bound",
      async () => {
        const { proxy, subject, db } = current();
        proxy.setLatency(100);
        const settled = await expectSettlesWithin(
          db.transaction(async (tx) => {
            await tx.execute(insertItem(1));
            return tx.query(selectItems);
          }),
          callBound,
          "a transaction over a slow network",
        );
        expect(settled.ok && settled.value).toEqual([{ id: 1, label: "item 1" }]);
        const read = await expectSettlesWithin(
          db.query(selectItems),
          callBound,
          "a query over a slow network",
        );
        expect(read.ok && read.value).toHaveLength(1);
        expect(await subject.countRows(TABLE)).toBe(1);
        await expectHealed();
      },
      testTimeout,
    );

    it(
      "half-open mid-query: each call times out within the bound, frees its pool slot and its socket",
      async () => {
        const { proxy, db } = current();
        await warmPool(db);
        await proxy.set("silent");
        const calls = Array.from({ length: POOL_SIZE }, () =>
          expectFailsWithin(db.query(selectItems), callBound, "TIMEOUT", "a query on a silent connection"),
        );
        await Promise.all(calls);
        // The adapter destroyed the dead connections instead of waiting for the socket to die.
        expect(await eventually(async () => proxy.openConnections, 0, callBound)).toBe(0);
        await expectHealed();
      },
      testTimeout,
    );

    it(
      "half-open on an idle pooled connection: the next call times out within the bound, then the adapter heals",
      async () => {
        const { proxy, subject, db } = current();
        await warmPool(db);
        await proxy.set("silent");
        await sleep(200);
        const error = await expectFailsWithin(
          db.execute(insertItem(1)),
          callBound,
          "TIMEOUT",
          "a write on a connection that went silent while idle",
        );
        // The INSERT was sent and no answer came: whether it ran is unknown to the adapter.
        expectUnknownOutcome(error);
        await expectHealed();
        expect(await subject.countRows(TABLE)).toBe(0);
      },
      testTimeout,
    );

    it(
      "reply lost after an autocommit INSERT ran: outcome unknown, not retryable, and never run twice",
      async () => {
        const { proxy, subject, db } = current();
        await warmPool(db);
        await warmInsert(db);
        await proxy.set("lose-replies");
        const error = await expectFailsWithin(
          db.execute(insertItem(1)),
          callBound,
          "TIMEOUT",
          "an INSERT whose reply is lost",
        );
        expectUnknownOutcome(error);
        await expectHealed();
        expect(await subject.countRows(TABLE)).toBe(1);
      },
      testTimeout,
    );

    for (const mode of ["cut-on-reply-close", "cut-on-reply-reset"] as const) {
      it(
        `peer closes after an autocommit INSERT ran (${mode}): UNAVAILABLE with outcome unknown, never replayed`,
        async () => {
          const { proxy, subject, db } = current();
          await warmPool(db);
          await warmInsert(db);
          await proxy.set(mode);
          const error = await expectFailsWithin(
            db.execute(insertItem(1)),
            callBound,
            "UNAVAILABLE",
            "an INSERT whose connection is cut as the reply comes",
          );
          expectUnknownOutcome(error);
          await expectHealed();
          expect(await subject.countRows(TABLE)).toBe(1);
        },
        testTimeout,
      );
    }

    it(
      "COMMIT reply lost: outcome unknown, not retryable; the transaction is committed exactly once",
      async () => {
        const { proxy, subject, db } = current();
        const error = await expectFailsWithin(
          db.transaction(async (tx) => {
            await tx.execute(insertItem(1));
            await tx.execute(insertItem(2));
            await proxy.set("lose-replies");
          }),
          callBound,
          "TIMEOUT",
          "a transaction whose COMMIT reply is lost",
        );
        expectUnknownOutcome(error);
        await expectHealed();
        expect(await subject.countRows(TABLE)).toBe(2);
      },
      testTimeout,
    );

    it(
      "half-open during COMMIT: outcome unknown within the bound; the server rolls back, no lock or open transaction stays",
      async () => {
        const { proxy, subject, db } = current();
        const error = await expectFailsWithin(
          db.transaction(async (tx) => {
            await tx.execute(insertItem(1));
            await proxy.set("silent");
          }),
          callBound,
          "TIMEOUT",
          "a COMMIT sent into a silent connection",
        );
        expectUnknownOutcome(error);
        await expectHealed();
        // COMMIT never reached the server: once the adapter dropped the connection, it rolled back.
        expect(await subject.countRows(TABLE)).toBe(0);
      },
      testTimeout,
    );

    it(
      "a transaction's signal stops a COMMIT stuck on a silent connection: CANCELLED, outcome unknown",
      async () => {
        const { proxy, db } = current();
        const controller = new AbortController();
        const outcome = db.transaction(
          async (tx) => {
            await tx.execute(insertItem(1));
            await proxy.set("silent");
            setTimeout(() => controller.abort(), 200);
          },
          { signal: controller.signal },
        );
        // Well before the call deadline: the signal, not the deadline, must end it.
        const error = await expectFailsWithin(
          outcome,
          Math.max(1_000, callMs / 2) + settleMs + MARGIN_MS / 2,
          "CANCELLED",
          "a COMMIT whose transaction was aborted",
        );
        expectUnknownOutcome(error);
        await expectHealed();
      },
      testTimeout,
    );

    it.skipIf(harness.streamFetchesInBatches === false)(
      "half-open mid-stream: the next fetch times out within the bound and the loop ends",
      async () => {
        const { proxy, db } = current();
        await db.insertMany(
          TABLE,
          ["id", "label"],
          Array.from({ length: 200 }, (_, index) => [index + 1, `item ${index + 1}`]),
        );
        const iterate = async (): Promise<number> => {
          let seen = 0;
          for await (const _row of db.stream(selectItems, { batchSize: 10 })) {
            seen += 1;
            if (seen === 1) await proxy.set("silent");
          }
          return seen;
        };
        await expectFailsWithin(iterate, callBound, "TIMEOUT", "a stream whose connection went silent");
        expect(await eventually(async () => proxy.openConnections, 0, callBound)).toBe(0);
        await expectHealed();
      },
      testTimeout,
    );

    it(
      "half-open in the middle of insertMany: TIMEOUT within the bound, and no row of the call remains",
      async () => {
        const { proxy, subject, db } = current();
        async function* rows() {
          for (let id = 1; id <= 2_000; id += 1) {
            if (id === 501) await proxy.set("silent");
            yield [id, `item ${id}`] as const;
          }
        }
        await expectFailsWithin(
          db.insertMany(TABLE, ["id", "label"], rows(), { batchSize: 100 }),
          callBound,
          "TIMEOUT",
          "an insertMany whose connection went silent midway",
        );
        await expectHealed();
        expect(await subject.countRows(TABLE)).toBe(0);
      },
      testTimeout,
    );

    it(
      "reset mid-request: UNAVAILABLE within the bound, and the half-sent INSERT never ran",
      async () => {
        const { proxy, subject, db } = current();
        await warmPool(db);
        await proxy.set("cut-mid-request", { afterBytes: 12 });
        await expectFailsWithin(
          db.execute(insertItem(1)),
          callBound,
          "UNAVAILABLE",
          "an INSERT cut while being sent",
        );
        await expectHealed();
        expect(await subject.countRows(TABLE)).toBe(0);
      },
      testTimeout,
    );

    it(
      "reset mid-response: UNAVAILABLE within the bound, and the adapter heals",
      async () => {
        const { proxy, db } = current();
        await db.insertMany(
          TABLE,
          ["id", "label"],
          Array.from({ length: 100 }, (_, index) => [index + 1, `item ${index + 1}`]),
        );
        await warmPool(db);
        await proxy.set("cut-mid-response", { afterBytes: 40 });
        await expectFailsWithin(db.query(selectItems), callBound, "UNAVAILABLE", "a query cut mid-reply");
        await expectHealed();
      },
      testTimeout,
    );

    it(
      "a full outage: calls fail UNAVAILABLE within the bound, and the adapter serves again once it ends",
      async () => {
        const { proxy, subject, db } = current();
        await warmPool(db);
        await proxy.set("outage");
        for (const call of [() => db.ping(), () => db.execute(insertItem(1)), () => db.query(selectItems)]) {
          await expectFailsWithin(call, callBound, ["UNAVAILABLE", "TIMEOUT"], "a call during an outage");
        }
        await expectHealed();
        expect(await subject.countRows(TABLE)).toBe(0);
      },
      testTimeout,
    );

    it.skipIf(harness.notifications !== true)(
      "a listener whose connection is cut reports the gap (onError UNAVAILABLE, then onResume) and hears again, with no busy reconnect loop",
      async () => {
        const { proxy, db } = current();
        const channel = uniqueName("ch");
        const inbox = new Inbox();
        const events: string[] = [];
        let resumed!: () => void;
        const back = new Promise<void>((resolve) => {
          resumed = resolve;
        });
        const listener = await listenOf(db)(channel, inbox.push, {
          onError: (error) => events.push(`error ${error.code}`),
          onResume: () => {
            events.push("resume");
            resumed();
          },
        });
        await notify(db, channel, "before");
        expect(await inbox.waitFor(1)).toEqual(["before"]);
        await proxy.set("outage-reset");
        proxy.cutAll("reset");
        // The outage lasts: the listener keeps trying, with a back-off rather than a busy loop.
        await sleep(1_500);
        expect(events.length, "the loss was reported").toBeGreaterThan(0);
        expect(events[0]).toBe("error UNAVAILABLE");
        expect(events).not.toContain("resume");
        expect(proxy.rejectedConnections, "reconnect tries in 1.5 s").toBeLessThan(30);
        await proxy.heal();
        await expectSettlesWithin(back, recoverBound, "onResume after the outage");
        expect(events.at(-1)).toBe("resume");
        expect(events.slice(0, -1).every((event) => event === "error UNAVAILABLE")).toBe(true);
        await expectRecoversWithin(() => notify(db, channel, "after"), recoverBound);
        expect(await inbox.waitFor(2)).toEqual(["before", "after"]);
        await listener.close();
        await expectHealed();
      },
      testTimeout,
    );
  });
}
