import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));
const packagesDir = join(packageDir, "..");

/**
 * Bundles `tiered-child.ts` and the workspace packages it imports, from source, into one ES module
 * (ioredis stays external and resolves from this package), so children run what the tests test.
 */
export async function buildChild(): Promise<string> {
  const outdir = join(packageDir, "node_modules", ".cache", "tiered-child");
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, "child.mjs");
  await build({
    entryPoints: [join(packageDir, "test", "support", "tiered-child.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile,
    external: ["ioredis"],
    alias: Object.fromEntries(
      ["ports", "cache-memory", "cache-redis"].map((dir) => [
        `@proj/${dir}`,
        join(packagesDir, dir, "src", "index.ts"),
      ]),
    ),
    logLevel: "silent",
  });
  return outfile;
}

/** One child process and a queue of the messages it sent. */
export class Child {
  readonly process: ChildProcess;
  readonly #inbox: Record<string, unknown>[] = [];
  readonly #waiting = new Set<() => void>();
  #exited = false;

  constructor(script: string) {
    this.process = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.process.on("message", (message: Record<string, unknown>) => {
      this.#inbox.push(message);
      for (const wake of [...this.#waiting]) wake();
    });
    this.process.on("exit", () => {
      this.#exited = true;
      for (const wake of [...this.#waiting]) wake();
    });
  }

  send(message: Record<string, unknown>): void {
    this.process.send(message);
  }

  /** The next message of `type`; a `failed` message or an exit fails the wait. */
  async next(type: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = this.#inbox.find((message) => message.type === "failed");
      if (failed) throw new Error(`a child failed: ${String(failed.message)}`);
      const index = this.#inbox.findIndex((message) => message.type === type);
      if (index !== -1) return this.#inbox.splice(index, 1)[0]!;
      if (this.#exited) throw new Error(`a child exited while the test waited for "${type}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`a child sent no "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiting.add(wake);
      });
    }
  }

  /** Asks the child to close its cache and exit; kills it if it does not within 10 s. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
    try {
      this.send({ cmd: "close" });
    } catch {
      // The channel is gone: the child is exiting.
    }
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
