import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { createNatsJobQueue, type NatsJobQueue, type NatsJobQueueOptions } from "../../src/index.js";

export const NATS_SERVERS = process.env.NATS_SERVERS ?? "127.0.0.1:4222";

/**
 * This test file's namespace: every stream it makes starts with `<namespace>_`, so `dropNamespace`
 * can remove whatever a failed test left behind. Child processes (the SIGKILL test) inherit it
 * through the environment.
 */
export const TEST_NAMESPACE = `t${randomBytes(5).toString("hex")}`;
process.env.QUEUE_NATS_TEST_NAMESPACE = TEST_NAMESPACE;
process.env.NATS_SERVERS = NATS_SERVERS;

export const CHILD_MODULE = fileURLToPath(new URL("./child-queue.mjs", import.meta.url));

export function openQueue(options: NatsJobQueueOptions = {}): NatsJobQueue {
  return createNatsJobQueue({ servers: NATS_SERVERS, namespace: TEST_NAMESPACE, ...options });
}

/** Deletes the streams of one queue of the test namespace. */
export async function dropQueue(queue: string): Promise<void> {
  const admin = openQueue();
  try {
    await admin.deleteQueue(queue);
  } finally {
    await admin.close();
  }
}

/** Deletes every stream of the test namespace (run after a file's tests: nothing stays on the server). */
export async function dropNamespace(namespace = TEST_NAMESPACE): Promise<string[]> {
  const nc = await connect({ servers: NATS_SERVERS });
  try {
    const names: string[] = [];
    for (let offset = 0; ; ) {
      const reply = await nc.request(
        "$JS.API.STREAM.NAMES",
        JSON.stringify({ offset, subject: `${namespace}.>` }),
        { timeout: 10_000 },
      );
      const { streams, total } = reply.json<{ streams: string[] | null; total: number }>();
      const page = streams ?? [];
      names.push(...page);
      offset += page.length;
      if (page.length === 0 || offset >= total) break;
    }
    const dropped = names.filter((name) => name.startsWith(`${namespace}_`));
    for (const name of dropped) await nc.request(`$JS.API.STREAM.DELETE.${name}`, "", { timeout: 10_000 });
    return dropped;
  } finally {
    await nc.close();
  }
}
