import { describe, expect, it } from "vitest";
import { DueCall, DueCalls } from "../src/redis-calls.js";

class Recorded extends DueCall {
  expiredAt: number | undefined;
  constructor(
    readonly name: string,
    readonly at: number,
    readonly log: string[],
  ) {
    super();
  }
  expire(): void {
    this.expiredAt = performance.now();
    this.log.push(this.name);
  }
}

/** Timers that hold the process open (an unref'd timer is not listed). */
const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("DueCalls: the deadlines of calls in flight on one timer", () => {
  it("expires each call at its deadline, never before, in deadline order whatever the order they came in", async () => {
    const due = new DueCalls();
    const log: string[] = [];
    const now = performance.now();
    const late = new Recorded("late", now + 120, log);
    const early = new Recorded("early", now + 40, log);
    const middle = new Recorded("middle", now + 80, log);
    due.add(late);
    due.add(early);
    due.add(middle);
    expect(due.size).toBe(3);
    await sleep(200);
    expect(log).toEqual(["early", "middle", "late"]);
    for (const call of [early, middle, late]) expect(call.expiredAt).toBeGreaterThanOrEqual(call.at);
    expect(due.size).toBe(0);
  });

  it("never expires a call taken off before its deadline, and keeps expiring the others", async () => {
    const due = new DueCalls();
    const log: string[] = [];
    const now = performance.now();
    const answered = new Recorded("answered", now + 30, log);
    const unanswered = new Recorded("unanswered", now + 60, log);
    due.add(answered);
    due.add(unanswered);
    due.delete(answered);
    due.delete(answered);
    await sleep(120);
    expect(log).toEqual(["unanswered"]);
  });

  it("holds one timer for a thousand calls, and none holds the process open once the last call is taken off", () => {
    const before = timeouts();
    const due = new DueCalls();
    const now = performance.now();
    const calls = Array.from({ length: 1_000 }, (_, i) => new Recorded(`c${i}`, now + 10_000 + i, []));
    for (const call of calls) due.add(call);
    expect(timeouts()).toBe(before + 1);
    expect(due.holdsProcessOpen).toBe(true);
    for (const call of calls.reverse()) due.delete(call);
    expect(due.size).toBe(0);
    expect(timeouts()).toBe(before);
    expect(due.holdsProcessOpen).toBe(false);
  });

  it("after the last call is taken off, expires the next one at its deadline and holds the process open for it", async () => {
    const due = new DueCalls();
    const log: string[] = [];
    const answered = new Recorded("answered", performance.now() + 30, log);
    due.add(answered);
    expect(due.holdsProcessOpen).toBe(true);
    due.delete(answered);
    expect(due.holdsProcessOpen).toBe(false);
    const next = new Recorded("next", performance.now() + 70, log);
    due.add(next);
    expect(due.holdsProcessOpen).toBe(true);
    await sleep(50);
    // The timer set for the answered call has fired and been set again for this one.
    expect(log).toEqual([]);
    expect(due.holdsProcessOpen).toBe(true);
    await sleep(60);
    expect(log).toEqual(["next"]);
    expect(next.expiredAt).toBeGreaterThanOrEqual(next.at);
    expect(due.holdsProcessOpen).toBe(false);
  });

  it("takes a call added again after its removal, like a new one", async () => {
    const due = new DueCalls();
    const log: string[] = [];
    const call = new Recorded("again", performance.now() + 30, log);
    due.add(call);
    due.delete(call);
    due.add(call);
    due.add(call);
    expect(due.size).toBe(1);
    await sleep(80);
    expect(log).toEqual(["again"]);
  });
});
