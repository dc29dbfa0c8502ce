/**
 * The child process of the jobs contract's SIGKILL test, shipped built in the kit's `dist`.
 *
 * argv[2] is JSON `{ module, queue, leaseMs, killOnStart }`: it imports `module` (the harness's
 * `childModule`), calls its `createJobQueue()`, works `queue` with a handler that reports each
 * delivery to the parent over IPC (`{ type: "started", id, attempt }`) and never finishes, and says
 * `{ type: "ready" }` once the worker runs. With `killOnStart` the handler instead kills its own
 * process with SIGKILL at once, before anything else runs (a job that crashes its worker). The parent kills it with SIGKILL; should the parent die
 * first, the IPC channel closes and the child exits.
 */
import { pathToFileURL } from "node:url";

interface ChildConfig {
  module: string;
  queue: string;
  leaseMs: number;
  killOnStart?: boolean;
}

interface ChildJobQueue {
  work(
    queue: string,
    handler: (job: { id: string; attempt: number }) => Promise<void>,
    options: { leaseMs: number; concurrency: number },
  ): unknown;
}

function send(message: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

process.on("disconnect", () => process.exit(0));

try {
  const config = JSON.parse(process.argv[2] ?? "") as ChildConfig;
  const loaded = (await import(pathToFileURL(config.module).href)) as {
    createJobQueue?: () => Promise<ChildJobQueue>;
  };
  if (typeof loaded.createJobQueue !== "function") {
    throw new Error(`${config.module} does not export createJobQueue()`);
  }
  const queue = await loaded.createJobQueue();
  queue.work(
    config.queue,
    (job) => {
      if (config.killOnStart === true) process.kill(process.pid, "SIGKILL");
      void send({ type: "started", id: job.id, attempt: job.attempt });
      return new Promise<void>(() => undefined);
    },
    { leaseMs: config.leaseMs, concurrency: 1 },
  );
  // Keeps the process alive whatever the adapter's sockets do, until the parent's SIGKILL.
  setInterval(() => undefined, 1 << 30);
  await send({ type: "ready" });
} catch (error) {
  await send({
    type: "failed",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
}
