import { describe, expect, it } from "vitest";
import { reconnectDelayMs } from "../src/deadline.js";
import { mapAmqpError } from "../src/map-amqp-error.js";
import {
  epochOfJobId,
  epochOfWellFormedJobId,
  idempotencyKeyHash,
  isIssuedJobId,
  JobIdIssuer,
  MAX_WAIT_EXPONENT,
  MIN_WAIT_EXPONENT,
  QueueNames,
  queueOfJobId,
  WAIT_PERIODS_MS,
  waitPeriodMs,
} from "../src/names.js";

describe("wait periods", () => {
  it("are the powers of two from 64 ms to 2^24 ms, 19 of them", () => {
    expect(WAIT_PERIODS_MS).toHaveLength(MAX_WAIT_EXPONENT - MIN_WAIT_EXPONENT + 1);
    expect(WAIT_PERIODS_MS[0]).toBe(64);
    expect(WAIT_PERIODS_MS.at(-1)).toBe(16_777_216);
  });

  it("never overshoot what is left by more than the shortest period, and always make progress", () => {
    for (const left of [1, 63, 64, 65, 127, 128, 1_000, 1_500, 86_399_999, 5e9]) {
      const period = waitPeriodMs(left);
      expect(WAIT_PERIODS_MS).toContain(period);
      if (left > 64) expect(period).toBeLessThanOrEqual(left);
      else expect(period).toBe(64);
      // The largest period not beyond what is left: the next one up would overshoot.
      if (period < 2 ** MAX_WAIT_EXPONENT && left > 64) expect(period * 2).toBeGreaterThan(left);
    }
  });

  it("pass a delay through each period at most once (the shortest twice), ending less than 64 ms after it is due", () => {
    for (const delay of [1, 100, 1_500, 600_000, 86_400_000]) {
      let left = delay;
      let waited = 0;
      const used = new Set<number>();
      while (left > 0) {
        const period = waitPeriodMs(left);
        if (period !== 2 ** MAX_WAIT_EXPONENT && !(period === 64 && left <= 64)) {
          expect(used.has(period), `period ${period} twice for ${delay}`).toBe(false);
        }
        used.add(period);
        waited += period;
        left -= period;
      }
      expect(waited).toBeGreaterThanOrEqual(delay);
      expect(waited - delay).toBeLessThan(64);
    }
  });
});

describe("names and ids", () => {
  it("derive every broker name from the prefix and the queue", () => {
    const names = new QueueNames("jobs");
    expect(names.main("reports")).toBe("jobs.reports");
    expect(names.wait("reports", 1024)).toBe("jobs.reports.wait.1024");
    expect(names.dead("reports")).toBe("jobs.reports.dead");
    expect(names.claim("reports", "abc")).toBe("jobs.reports.key.abc");
    expect(names.all("reports")).toHaveLength(2 + WAIT_PERIODS_MS.length);
  });

  it("encode the queue in a job id, and refuse what is no job id", () => {
    const issuer = new JobIdIssuer();
    const id = issuer.next("reports-2");
    expect(queueOfJobId(id)).toBe("reports-2");
    expect(epochOfJobId(id)).toBe(issuer.epoch);
    for (const queue of ["q", "reports-2", "a".repeat(64)]) {
      const issued = issuer.next(queue);
      expect(epochOfWellFormedJobId(issued)).toBe(epochOfJobId(issued));
    }
    expect(issuer.next("reports-2")).not.toBe(id);
    for (const bad of ["no-such-job", "", "a.b.c", "reports.short", `.${id}`, 42, undefined]) {
      expect(queueOfJobId(bad)).toBeUndefined();
    }
  });

  it("start a new epoch, with a new key, every 65,536 ids and every hour", () => {
    let now = 1_000_000;
    const issuer = new JobIdIssuer(() => now);
    const first = issuer.epoch;
    const firstKey = issuer.key;
    const ids = Array.from({ length: 65_536 }, () => issuer.next("q"));
    expect(new Set(ids.map((id) => epochOfJobId(id)))).toEqual(new Set([first]));
    const next = issuer.next("q");
    expect(epochOfJobId(next)).not.toBe(first);
    expect(issuer.key).not.toBe(firstKey);
    expect(isIssuedJobId(ids[65_535] as string, firstKey)).toBe(true);
    expect(isIssuedJobId(next, issuer.key)).toBe(true);
    const second = issuer.epoch;
    now += 3_599_999;
    expect(epochOfJobId(issuer.next("q"))).toBe(second);
    now += 1;
    expect(epochOfJobId(issuer.next("q"))).not.toBe(second);
  });

  it("issue unique ids that only their issuer's key recognises", () => {
    const issuer = new JobIdIssuer();
    const other = new JobIdIssuer();
    // Past one sealed batch (256), so the refill is covered too.
    const ids = Array.from({ length: 600 }, () => issuer.next("q"));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(isIssuedJobId(id, issuer.key)).toBe(true);
    const id = ids[0] as string;
    expect(isIssuedJobId(id, other.key)).toBe(false);
    expect(isIssuedJobId(other.next("q"), issuer.key)).toBe(false);
    // Same shape, never issued: random blocks under the issuer's epoch.
    const forged = Array.from({ length: 200 }, (_, n) => `q.${issuer.epoch}${String(n).padStart(22, "A")}`);
    expect(forged.filter((f) => isIssuedJobId(f, issuer.key))).toEqual([]);
    // base64url's last character has free low bits: other spellings of an issued block are refused.
    const last = id.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    expect(isIssuedJobId(`${id.slice(0, -1)}${sibling}`, issuer.key)).toBe(false);
    expect(isIssuedJobId(id, "not-a-key")).toBe(false);
  });

  it("hash keys by their exact UTF-8 bytes", () => {
    const keys = ["a", "A", "é", "e\u0301", "😀", "k:1", "k:01"];
    const hashes = new Set(keys.map(idempotencyKeyHash));
    expect(hashes.size).toBe(keys.length);
    for (const hash of hashes) expect(hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("reconnect delay", () => {
  it("grows from about 100 ms to at most 5 s, never below half its ceiling", () => {
    expect(reconnectDelayMs(1, () => 0)).toBe(50);
    expect(reconnectDelayMs(1, () => 0.999)).toBeLessThanOrEqual(100);
    expect(reconnectDelayMs(30, () => 0)).toBe(2_500);
    expect(reconnectDelayMs(30, () => 0.999)).toBeLessThanOrEqual(5_000);
  });
});

describe("mapAmqpError", () => {
  const amqp = (code: number | string, message = "x") => Object.assign(new Error(message), { code });

  it.each([
    [404, "NOT_FOUND"],
    [406, "CONFLICT"],
    [403, "PERMISSION_DENIED"],
    [320, "UNAVAILABLE"],
    [506, "RESOURCE_EXHAUSTED"],
    [541, "INTERNAL"],
    ["ECONNREFUSED", "UNAVAILABLE"],
    ["ECONNRESET", "UNAVAILABLE"],
    ["ETIMEDOUT", "TIMEOUT"],
  ] as const)("maps %s to %s", (code, expected) => {
    const mapped = mapAmqpError(amqp(code), "a call");
    expect(mapped.code).toBe(expected);
    expect(mapped.cause).toBeInstanceOf(Error);
  });

  it("maps a refused login, a closed channel and anything else", () => {
    expect(
      mapAmqpError(
        new Error(
          'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
        ),
        "connect",
      ).code,
    ).toBe("UNAUTHENTICATED");
    const closed = Object.assign(new Error("Channel closed"), { name: "IllegalOperationError" });
    expect(mapAmqpError(closed, "publish").code).toBe("UNAVAILABLE");
    expect(mapAmqpError(new Error("something odd"), "publish").code).toBe("INTERNAL");
    expect(mapAmqpError("not an error", "publish").code).toBe("INTERNAL");
  });
});
