// The jobs contract's child process imports this (through the built package) to get a worker of
// its own in another process; it uses the namespace of the test run that forked it.
import { createNatsJobQueue } from "@proj/queue-nats";

export async function createJobQueue() {
  return createNatsJobQueue({
    servers: process.env.NATS_SERVERS ?? "127.0.0.1:4222",
    namespace: process.env.QUEUE_NATS_TEST_NAMESPACE ?? "projtest",
  });
}
