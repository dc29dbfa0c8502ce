import { type SqlDatabase, type SqlExecutor, type SqlListener, sql } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep, uniqueName } from "../harness.js";
import type { SqlContractContext } from "./context.js";

/** How long a test waits for a notification that should come (a loaded machine is slow). */
const ARRIVAL_MS = 5_000;
/** How long a test watches for a notification that must not come. */
const QUIET_MS = 400;

/** A listener's notifications as they arrive, with a way to wait for the next ones. */
export class Inbox {
  readonly payloads: string[] = [];
  #waiters: Array<() => void> = [];

  readonly push = (payload: string): void => {
    this.payloads.push(payload);
    for (const wake of this.#waiters.splice(0)) wake();
  };

  /** Resolves once `count` payloads have arrived; fails after `ms`. */
  async waitFor(count: number, ms = ARRIVAL_MS): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.payloads.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`expected ${count} notification(s) within ${ms} ms, got ${this.payloads.length}`);
      }
      await Promise.race([new Promise<void>((resolve) => this.#waiters.push(resolve)), sleep(left)]);
    }
    return this.payloads;
  }
}

export function notify(executor: SqlExecutor, channel: string, payload: string): Promise<unknown> {
  return executor.query(sql`SELECT pg_notify(${channel}, ${payload}) AS sent`);
}

/** `db.listen`, which a test only calls where the capability was declared. */
export function listenOf(db: SqlDatabase): NonNullable<SqlDatabase["listen"]> {
  const listen = db.listen;
  if (listen === undefined) throw new Error("capabilities.notifications is true, yet listen() is missing");
  return listen.bind(db);
}

/**
 * LISTEN/NOTIFY (`capabilities.notifications`): checked where the harness declares it, skipped
 * visibly elsewhere; the capability flag itself is checked everywhere.
 */
export function notificationTests({ db, harness }: SqlContractContext): void {
  const declared = harness.notifications === true;

  describe("notifications", () => {
    it("offers listen() exactly when capabilities.notifications is true, as the harness declares", () => {
      expect(db().capabilities.notifications === true).toBe(declared);
      expect(typeof db().listen === "function").toBe(declared);
    });

    it.skipIf(!declared)(
      "delivers each notification sent after listen() resolved, payload intact",
      async () => {
        const channel = uniqueName("ch");
        const inbox = new Inbox();
        const listener = await listenOf(db())(channel, inbox.push);
        expect(listener.channel).toBe(channel);
        const payloads = ['{"queue":"reports"}', "", "ünïcödé ' \" ; --", "x".repeat(7_000)];
        for (const payload of payloads) await notify(db(), channel, payload);
        expect(await inbox.waitFor(payloads.length)).toEqual(payloads);
        await listener.close();
      },
    );

    it.skipIf(!declared)(
      "delivers to every listener of the channel, and not across channels (names are case-sensitive)",
      async () => {
        const channel = uniqueName("ch");
        const [first, second, other] = [new Inbox(), new Inbox(), new Inbox()];
        const listen = listenOf(db());
        const listeners = await Promise.all([
          listen(channel, first.push),
          listen(channel, second.push),
          listen(channel.toUpperCase(), other.push),
        ]);
        await notify(db(), channel, "one");
        expect(await first.waitFor(1)).toEqual(["one"]);
        expect(await second.waitFor(1)).toEqual(["one"]);
        await notify(db(), channel.toUpperCase(), "upper");
        expect(await other.waitFor(1)).toEqual(["upper"]);
        expect(first.payloads).toEqual(["one"]);
        await Promise.all(listeners.map((listener) => listener.close()));
      },
    );

    it.skipIf(!declared)(
      "a transaction's notifications arrive at its commit, and none on rollback",
      async () => {
        const channel = uniqueName("ch");
        const inbox = new Inbox();
        const listener = await listenOf(db())(channel, inbox.push);
        await expect(
          db().transaction(async (tx) => {
            await notify(tx, channel, "rolled back");
            throw new Error("roll back");
          }),
        ).rejects.toThrow("roll back");
        await db().transaction(async (tx) => {
          await notify(tx, channel, "committed");
          await sleep(QUIET_MS);
          expect(inbox.payloads, "delivered before the commit").toEqual([]);
        });
        expect(await inbox.waitFor(1)).toEqual(["committed"]);
        await sleep(QUIET_MS);
        expect(inbox.payloads).toEqual(["committed"]);
        await listener.close();
      },
    );

    it.skipIf(!declared)(
      "after close() a listener hears nothing more; other listeners of the channel still do",
      async () => {
        const channel = uniqueName("ch");
        const [closed, open] = [new Inbox(), new Inbox()];
        const listen = listenOf(db());
        const gone: SqlListener = await listen(channel, closed.push);
        const kept = await listen(channel, open.push);
        await notify(db(), channel, "before");
        await closed.waitFor(1);
        await gone.close();
        await gone.close();
        await notify(db(), channel, "after");
        expect(await open.waitFor(2)).toEqual(["before", "after"]);
        await sleep(QUIET_MS);
        expect(closed.payloads).toEqual(["before"]);
        await kept.close();
        const again = new Inbox();
        const reopened = await listen(channel, again.push);
        await notify(db(), channel, "reopened");
        expect(await again.waitFor(1)).toEqual(["reopened"]);
        await sleep(QUIET_MS);
        expect(open.payloads).toEqual(["before", "after"]);
        await reopened.close();
      },
    );

    it.skipIf(!declared)(
      "a signal fired before is CANCELLED; fired later, it closes the listener",
      async () => {
        const channel = uniqueName("ch");
        const listen = listenOf(db());
        await expectErrorCode(
          listen(channel, () => undefined, { signal: AbortSignal.abort() }),
          "CANCELLED",
        );
        const controller = new AbortController();
        const inbox = new Inbox();
        await listen(channel, inbox.push, { signal: controller.signal });
        await notify(db(), channel, "first");
        await inbox.waitFor(1);
        controller.abort();
        await sleep(50);
        await notify(db(), channel, "second");
        await sleep(QUIET_MS);
        expect(inbox.payloads).toEqual(["first"]);
      },
    );

    it.skipIf(!declared)(
      "refuses a bad channel with INVALID_ARGUMENT; after the database's close() listen is CLOSED and listeners hear nothing",
      async () => {
        const listen = listenOf(db());
        for (const bad of ["", "x".repeat(64), "a\0b"]) {
          await expectErrorCode(
            listen(bad, () => undefined),
            "INVALID_ARGUMENT",
          );
        }
        const channel = uniqueName("ch");
        const inbox = new Inbox();
        await listen(channel, inbox.push);
        await db().close();
        await expectErrorCode(
          listen(channel, () => undefined),
          "CLOSED",
        );
        expect(inbox.payloads).toEqual([]);
      },
    );
  });
}
