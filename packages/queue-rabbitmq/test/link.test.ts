import type { Writable } from "node:stream";
import { uniqueName } from "@proj/contract-tests";
import { isInfrastructureError } from "@proj/ports";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeadline } from "../src/deadline.js";
import { coalesceWrites, Link, NackedError } from "../src/link.js";
import { AMQP_URL } from "./support/harness.js";

/**
 * RabbitMQ nacks a publish it does not take: here a queue full under `x-overflow: reject-publish`,
 * which the test declares itself (a real nack, not a simulated one). A classic queue, which rejects
 * from the first message past `x-max-length` (a quorum queue takes one more before it does).
 */
describe("Link: a nacked publish", () => {
  let connection: amqp.ChannelModel;
  let admin: amqp.Channel;
  const link = new Link({
    url: AMQP_URL,
    heartbeatSeconds: 10,
    connectionName: "@proj/queue-rabbitmq link test",
    silenceMs: 10_000,
    onError: () => undefined,
  });
  const queues: string[] = [];

  async function fullQueue(): Promise<string> {
    const name = uniqueName("nack");
    queues.push(name);
    await admin.assertQueue(name, {
      durable: true,
      arguments: { "x-queue-type": "classic", "x-max-length": 1, "x-overflow": "reject-publish" },
    });
    await link.publish({ queue: name, content: Buffer.from("1") }, startDeadline(5_000), undefined, "first");
    return name;
  }

  beforeAll(async () => {
    connection = await amqp.connect(AMQP_URL);
    admin = await connection.createChannel();
  });
  afterAll(async () => {
    for (const name of queues) await admin.deleteQueue(name).catch(() => undefined);
    await connection.close();
    await link.close(2_000);
  });

  it("is sent again until RabbitMQ takes it, within the deadline", async () => {
    const name = await fullQueue();
    const started = performance.now();
    const second = link.publish(
      { queue: name, content: Buffer.from("2") },
      startDeadline(5_000),
      undefined,
      "second",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Room again: a later try is taken.
    await admin.purgeQueue(name);
    await second;
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    const { messageCount } = await admin.checkQueue(name);
    expect(messageCount).toBe(1);
    const message = await admin.get(name, { noAck: true });
    expect(message === false ? "no message" : message.content.toString()).toBe("2");
  });

  it("fails with UNAVAILABLE (not an unknown outcome) once the deadline leaves no room for another try", async () => {
    const name = await fullQueue();
    const started = performance.now();
    const error = await link
      .publish({ queue: name, content: Buffer.from("2") }, startDeadline(400), undefined, "second")
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(NackedError);
    expect(isInfrastructureError(error, "UNAVAILABLE")).toBe(true);
    expect((error as NackedError).details.outcome).toBeUndefined();
    expect(elapsed, "it gave up at once").toBeGreaterThanOrEqual(150);
    expect(elapsed, "it went past its deadline").toBeLessThan(1_000);
    const { messageCount } = await admin.checkQueue(name);
    expect(messageCount).toBe(1);
  });
});

/**
 * `coalesceWrites` on a real amqplib connection: the frames of 50 publishes made in one turn leave
 * in a few writes, not one each. Counted on the socket itself, where every flush passes through
 * `_write` (one chunk) or `_writev` (several).
 */
describe("coalesceWrites", () => {
  async function countFlushes(coalesce: boolean): Promise<{ flushes: number; chunks: number }> {
    const connection = await amqp.connect(AMQP_URL, { noDelay: true });
    try {
      if (coalesce) coalesceWrites(connection);
      const channel = await connection.createConfirmChannel();
      const name = uniqueName("coalesce");
      await channel.assertQueue(name, { durable: false, autoDelete: true });
      const socket = (connection.connection as unknown as { stream: Writable }).stream as Writable & {
        _write: (...args: unknown[]) => void;
        _writev: (chunks: unknown[], ...rest: unknown[]) => void;
      };
      let flushes = 0;
      let chunks = 0;
      const write = socket._write;
      const writev = socket._writev;
      socket._write = function (this: unknown, ...args: unknown[]) {
        flushes++;
        chunks++;
        return write.apply(this, args);
      };
      socket._writev = function (this: unknown, batch: unknown[], ...rest: unknown[]) {
        flushes++;
        chunks += batch.length;
        return writev.apply(this, [batch, ...rest]);
      };
      const confirms = Array.from(
        { length: 50 },
        (_, i) =>
          new Promise<void>((resolve, reject) =>
            channel.publish("", name, Buffer.from(String(i)), {}, (error) =>
              error ? reject(error) : resolve(),
            ),
          ),
      );
      await Promise.all(confirms);
      socket._write = write;
      socket._writev = writev;
      await channel.deleteQueue(name);
      return { flushes, chunks };
    } finally {
      await connection.close();
    }
  }

  it("sends the frames written in one turn in two flushes: the first frame at once, the rest together", async () => {
    const coalesced = await countFlushes(true);
    expect(coalesced.chunks, "every publish reached the socket").toBeGreaterThanOrEqual(50);
    expect(
      coalesced.flushes,
      `${coalesced.chunks} frames in ${coalesced.flushes} flushes`,
    ).toBeLessThanOrEqual(3);
    // Without it amqplib flushes frame by frame: the check above can fail.
    const plain = await countFlushes(false);
    expect(plain.flushes, `${plain.chunks} frames in ${plain.flushes} flushes`).toBeGreaterThan(25);
  });
});
