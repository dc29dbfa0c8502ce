import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The server the tests run against. */
    mongodb: { url: string; kind: "real" | "jongodb" };
  }
}

const READY = "JONGODB_URI=";

/**
 * Where no MONGODB_URL names a real server, starts jongodb (a MongoDB wire-protocol server shipped
 * as a native binary in an npm package) on a free loopback port for the run, and stops it after.
 */
async function startJongodb(): Promise<{ url: string; child: ChildProcess }> {
  const require = createRequire(import.meta.url);
  let binary: string;
  try {
    binary = join(
      dirname(require.resolve("@jongodb/memory-server-bin-linux-x64-gnu/package.json")),
      "bin",
      "jongodb",
    );
  } catch (error) {
    throw new Error(
      "adapter-mongodb tests need a server: set MONGODB_URL, or install on linux-x64 (glibc) where jongodb ships",
      { cause: error },
    );
  }
  const child = spawn(binary, ["--host=127.0.0.1", "--port=0"], { stdio: ["ignore", "pipe", "pipe"] });
  const stderr: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`jongodb did not start in 15 s: ${stderr.join("")}`)),
      15_000,
    );
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`jongodb exited with ${code}: ${stderr.join("")}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith(READY)) return;
      clearTimeout(timer);
      // The printed URI names the launcher's default database; tests pick their own.
      resolve(line.slice(READY.length).replace(/\/[^/?]*(\?.*)?$/, "/"));
    });
  });
  return { url, child };
}

export default async function setup(project: TestProject) {
  const real = process.env.MONGODB_URL;
  if (real) {
    console.info("adapter-mongodb: testing against the MongoDB server named by MONGODB_URL");
    project.provide("mongodb", { url: real, kind: "real" });
    return;
  }
  const { url, child } = await startJongodb();
  console.info(
    `adapter-mongodb: MONGODB_URL is not set; testing against jongodb at ${url} (an emulator: see README "What was verified")`,
  );
  project.provide("mongodb", { url, kind: "jongodb" });
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  };
}
