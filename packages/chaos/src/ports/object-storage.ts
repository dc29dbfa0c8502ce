import type { ObjectStorage } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { chaosIterable, intercept, interceptStream, readableFailingAtEnd } from "../intercept.js";

/**
 * An `ObjectStorage` with faults injected by `chaos` (or a chaos made from these options). Keys:
 * the object's key (`copy`: source and destination; `deleteMany`: every key; `list` and `listPage`:
 * the prefix). A `get` fault of the `"after"` phase fails its body after the last byte; on `list`,
 * after the last object.
 */
export function withChaosObjectStorage(storage: ObjectStorage, chaos: Chaos | ChaosOptions): ObjectStorage {
  const c = chaosOf(chaos);
  const site = (operation: string) => c.site("objectStorage", operation);
  const put = site("put");
  const get = site("get");
  const getBytes = site("getBytes");
  const head = site("head");
  const exists = site("exists");
  const del = site("delete");
  const deleteMany = site("deleteMany");
  const list = site("list");
  const listPage = site("listPage");
  const copy = site("copy");
  const signedUrl = site("signedUrl");
  return {
    get capabilities() {
      return storage.capabilities;
    },
    put: (key, body, options) =>
      intercept(
        put,
        () => key,
        options?.signal,
        () => storage.put(key, body, options),
      ),
    get: (key, options) =>
      interceptStream(
        get,
        () => key,
        options?.signal,
        () => storage.get(key, options),
        (result, error) => ({ info: result.info, body: readableFailingAtEnd(result.body, error) }),
      ),
    getBytes: (key, options) =>
      intercept(
        getBytes,
        () => key,
        options?.signal,
        () => storage.getBytes(key, options),
      ),
    head: (key, options) =>
      intercept(
        head,
        () => key,
        options?.signal,
        () => storage.head(key, options),
      ),
    exists: (key, options) =>
      intercept(
        exists,
        () => key,
        options?.signal,
        () => storage.exists(key, options),
      ),
    delete: (key, options) =>
      intercept(
        del,
        () => key,
        options?.signal,
        () => storage.delete(key, options),
      ),
    deleteMany: (keys, options) => {
      const all = typeof keys === "object" && keys !== null && Symbol.iterator in keys ? [...keys] : keys;
      return intercept(
        deleteMany,
        () => (Array.isArray(all) ? all.filter((key): key is string => typeof key === "string") : undefined),
        options?.signal,
        () => storage.deleteMany(all, options),
      );
    },
    list: (options) =>
      chaosIterable(
        list,
        () => options?.prefix,
        options?.signal,
        () => storage.list(options),
      ),
    listPage: (options) =>
      intercept(
        listPage,
        () => options?.prefix,
        options?.signal,
        () => storage.listPage(options),
      ),
    copy: (sourceKey, destinationKey, options) =>
      intercept(
        copy,
        () => [sourceKey, destinationKey],
        options?.signal,
        () => storage.copy(sourceKey, destinationKey, options),
      ),
    signedUrl: (key, options) =>
      intercept(
        signedUrl,
        () => key,
        undefined,
        () => storage.signedUrl(key, options),
      ),
    close: () => storage.close(),
    [Symbol.asyncDispose]: () => storage.close(),
  };
}
