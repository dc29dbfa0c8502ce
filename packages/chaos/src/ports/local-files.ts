import type { LocalFileManager } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { intercept, interceptStream, readableFailingAtEnd } from "../intercept.js";

/**
 * A `LocalFileManager` with faults injected by `chaos` (or a chaos made from these options). Keys:
 * the relative path (`list`: the folder, `""` for the root; `sweep`: its `path`); `withTempFile` has
 * none. A `createReadStream` fault of the `"after"` phase fails the stream after its last byte.
 */
export function withChaosLocalFileManager(
  files: LocalFileManager,
  chaos: Chaos | ChaosOptions,
): LocalFileManager {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("localFiles", operation);
  const resolve = site("resolve");
  const write = site("write");
  const read = site("read");
  const createReadStream = site("createReadStream");
  const exists = site("exists");
  const stat = site("stat");
  const del = site("delete");
  const list = site("list");
  const withTempFile = site("withTempFile");
  const sweep = site("sweep");
  return {
    get root() {
      return files.root;
    },
    resolve: (path) =>
      intercept(
        resolve,
        () => path,
        undefined,
        () => files.resolve(path),
      ),
    write: (path, data, options) =>
      intercept(
        write,
        () => path,
        options?.signal,
        () => files.write(path, data, options),
      ),
    read: (path, options) =>
      intercept(
        read,
        () => path,
        options?.signal,
        () => files.read(path, options),
      ),
    createReadStream: (path) =>
      interceptStream(
        createReadStream,
        () => path,
        undefined,
        () => files.createReadStream(path),
        readableFailingAtEnd,
      ),
    exists: (path) =>
      intercept(
        exists,
        () => path,
        undefined,
        () => files.exists(path),
      ),
    stat: (path) =>
      intercept(
        stat,
        () => path,
        undefined,
        () => files.stat(path),
      ),
    delete: (path) =>
      intercept(
        del,
        () => path,
        undefined,
        () => files.delete(path),
      ),
    list: (folder) =>
      intercept(
        list,
        () => folder ?? "",
        undefined,
        () => files.list(folder),
      ),
    withTempFile: (work, options) =>
      intercept(withTempFile, undefined, undefined, () => files.withTempFile(work, options)),
    sweep: (options) =>
      intercept(
        sweep,
        () => options?.path,
        undefined,
        () => files.sweep(options),
      ),
    close: () => files.close(),
    [Symbol.asyncDispose]: () => files.close(),
  };
}
