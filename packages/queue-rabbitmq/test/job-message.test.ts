import type { ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { type JobMessage, jobMessageType, parseJobMessage } from "../src/job-message.js";
import { idempotencyKeyHash, JobIdIssuer } from "../src/names.js";

const issuer = new JobIdIssuer();

function delivered(type: unknown): ConsumeMessage {
  return { properties: { type, headers: {} } } as unknown as ConsumeMessage;
}

describe("job messages", () => {
  it("carry a job in their type, with and without an idempotency key", () => {
    const plain: JobMessage = {
      id: issuer.next("reports"),
      queue: "reports",
      attempt: 2,
      maxAttempts: 1_000,
      dueAt: 1_796_000_000_123,
      keyHash: undefined,
    };
    const keyed: JobMessage = { ...plain, attempt: 1, keyHash: idempotencyKeyHash("invoice-7") };
    for (const job of [plain, keyed]) {
      const type = jobMessageType(job);
      expect(Buffer.byteLength(type)).toBeLessThanOrEqual(255);
      expect(parseJobMessage(delivered(type), "reports")).toEqual(job);
    }
  });

  it("fit the 255 bytes of a short string at the longest queue name and a key", () => {
    const queue = `q${"x".repeat(63)}`;
    const type = jobMessageType({
      id: issuer.next(queue),
      attempt: 1_000,
      maxAttempts: 1_000,
      dueAt: Number.MAX_SAFE_INTEGER,
      keyHash: idempotencyKeyHash("k"),
    });
    expect(Buffer.byteLength(type)).toBeLessThanOrEqual(255);
  });

  it("refuse what is no job of the queue", () => {
    const id = issuer.next("reports");
    const key = idempotencyKeyHash("k");
    for (const type of [
      undefined,
      42,
      "",
      `job0 1 3 0 ${id}`,
      `job1 0 3 0 ${id}`,
      `job1 1 0 0 ${id}`,
      `job1 1 3 -5 ${id}`,
      `job1 01 3 0 ${id}`,
      `job1 1 3 0 ${id} short`,
      `job1 1 3 0 ${id} ${key} extra`,
      `job1 1 3 0 ${issuer.next("other")}`,
      `job1 1 3 0 reports.short`,
      `job1 9007199254740993 3 0 ${id}`,
      `job1 1 3 99999999999999999 ${id}`,
      `job1 1 3 0 ${id}${key}`,
      ` job1 1 3 0 ${id}`,
    ]) {
      expect(parseJobMessage(delivered(type), "reports"), String(type)).toBeUndefined();
    }
  });
});
