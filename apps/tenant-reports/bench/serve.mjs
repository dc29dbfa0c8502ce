// The service under load, in a process of its own: bench/load.mjs forks it and drives it over IPC
// (tokens, memory readings, CPU profiles), while its load generator runs in the parent process.
// Composed from ../dist with the same composition root and configuration loader as `pnpm start`.
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { setTimeout as delay } from "node:timers/promises";
import { composeService } from "../dist/composition/compose.js";
import { ConfigurationError, loadConfig } from "../dist/composition/config.js";

if (typeof globalThis.gc !== "function" || process.send === undefined) {
  throw new Error("bench/serve.mjs is forked by bench/load.mjs (with --expose-gc)");
}

const memory = () => {
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
};

let service;
try {
  service = await composeService(loadConfig(process.env));
} catch (error) {
  console.error(error instanceof ConfigurationError ? error.message : error);
  process.exit(1);
}
const base = await service.http.listen({ host: "127.0.0.1", port: 0 });

let sampler;
let peak;
let profiler;

/** What the parent may ask; each answers a JSON value. */
const operations = {
  issue: (claims) => service.devIssuer.issue(claims),
  /** Memory once the garbage is gone: what a leak would make grow from one round to the next. */
  async settledMemory() {
    globalThis.gc();
    await delay(200);
    globalThis.gc();
    return memory();
  },
  /** This process's CPU time so far, in µs: per request, steadier than req/s on a loaded machine. */
  cpu() {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
  startSampling() {
    peak = memory();
    sampler = setInterval(() => {
      const now = memory();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.heap = Math.max(peak.heap, now.heap);
      // Once a second: memoryUsage() reads /proc, which costs the service time on a loaded machine.
    }, 1_000);
    return null;
  },
  stopSampling() {
    clearInterval(sampler);
    return peak;
  },
  async startProfile() {
    profiler = new Session();
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
    return null;
  },
  async stopProfile(file) {
    const { profile } = await profiler.post("Profiler.stop");
    profiler.disconnect();
    await writeFile(file, JSON.stringify(profile));
    return file;
  },
  async close() {
    await service.close();
    setImmediate(() => process.exit(0));
    return null;
  },
};

process.on("message", async ({ id, operation, argument }) => {
  try {
    process.send({ id, result: await operations[operation](argument) });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});
process.send({ ready: true, base, description: service.description });
