import type { LocalFileManager } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { CALLER_CODE, callerCode, releaseOnClose, withSignal } from "../shared.js";

/**
 * A `LocalFileManager` whose calls go through `policy` (or a policy made from these options).
 *
 * Retried: `resolve`, `read`, `createReadStream` (until the stream is handed over), `exists`,
 * `stat`, `list`, `delete`, `sweep`, and `write` of bytes or a string (an atomic overwrite with the
 * same content). Never retried: `write` of a stream (the first attempt consumed it) and
 * `withTempFile` (it runs the caller's work; no deadline of the policy's by default). `exists`,
 * `stat`, `delete`, `list`, `createReadStream`, `resolve` and `sweep` take no signal in the port, so
 * the policy's deadline answers the caller on time but cannot stop the file system call.
 */
export function withResilienceLocalFileManager(
  files: LocalFileManager,
  policy: ResiliencePolicy | ResilienceOptions = {},
): LocalFileManager {
  const p = policyOf(policy);
  const op = (name: string, idempotent = true) => p.operation("localFiles", name, { idempotent });
  const resolve = op("resolve");
  const writeAgain = op("write");
  const writeOnce = op("write", false);
  const read = op("read");
  const createReadStream = op("createReadStream");
  const exists = op("exists");
  const stat = op("stat");
  const del = op("delete");
  const list = op("list");
  const sweep = op("sweep");
  const withTempFile = p.operation("localFiles", "withTempFile", { idempotent: false, runsCallerCode: true });
  return {
    get root() {
      return files.root;
    },
    resolve: (path) => p.run(resolve, undefined, () => files.resolve(path)),
    write: (path, data, options) =>
      p.run(
        typeof data === "string" || data instanceof Uint8Array ? writeAgain : writeOnce,
        options?.signal,
        (signal) => files.write(path, data, withSignal(options, signal)),
      ),
    read: (path, options) =>
      p.run(read, options?.signal, (signal) => files.read(path, withSignal(options, signal))),
    createReadStream: async (path) => {
      const held = await p.open(createReadStream, undefined, () => files.createReadStream(path), {
        abandon: (stream) => stream.destroy(),
      });
      releaseOnClose(held.value, held.release);
      return held.value;
    },
    exists: (path) => p.run(exists, undefined, () => files.exists(path)),
    stat: (path) => p.run(stat, undefined, () => files.stat(path)),
    delete: (path) => p.run(del, undefined, () => files.delete(path)),
    list: (folder) => p.run(list, undefined, () => files.list(folder)),
    withTempFile: (work, options) =>
      p.run(
        withTempFile,
        undefined,
        () => files.withTempFile(typeof work === "function" ? callerCode(work) : work, options),
        CALLER_CODE,
      ),
    sweep: (options) => p.run(sweep, undefined, () => files.sweep(options)),
    close: () => files.close(),
    [Symbol.asyncDispose]: () => files.close(),
  };
}
