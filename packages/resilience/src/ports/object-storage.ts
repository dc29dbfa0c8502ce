import type {
  ListObjectsOptions,
  ObjectBody,
  ObjectStorage,
  ObjectSummary,
  PutObjectOptions,
} from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { releaseOnClose, withSignal } from "../shared.js";

/** A body that can be sent again: bytes or a string. A stream is consumed by the first attempt. */
function replayable(body: ObjectBody): boolean {
  return typeof body === "string" || body instanceof Uint8Array;
}

/**
 * An `ObjectStorage` whose calls go through `policy` (or a policy made from these options).
 *
 * Retried: reads (`get` up to the hand-over of the body, `getBytes`, `head`, `exists`, `listPage`,
 * each page of `list`, `signedUrl`), `delete`, `deleteMany` and `copy` (doing them twice leaves the
 * same state), and `put` of bytes or a string without `ifNoneMatch` (an overwrite with the same
 * content). Never retried: `put` of a stream (the first attempt consumed it) and `put` with
 * `ifNoneMatch: "*"` (a second attempt would report `CONFLICT` for the caller's own object).
 * A `get` body holds its bulkhead slot until the stream closes; a failure while reading it is
 * never retried (bytes were delivered).
 */
export function withResilienceObjectStorage(
  storage: ObjectStorage,
  policy: ResiliencePolicy | ResilienceOptions = {},
): ObjectStorage {
  const p = policyOf(policy);
  const op = (name: string, idempotent = true) => p.operation("objectStorage", name, { idempotent });
  const putAgain = op("put");
  const putOnce = op("put", false);
  const get = op("get");
  const getBytes = op("getBytes");
  const head = op("head");
  const exists = op("exists");
  const del = op("delete");
  const deleteMany = op("deleteMany");
  const listPage = op("listPage");
  const copy = op("copy");
  const signedUrl = op("signedUrl");
  const decorated: ObjectStorage = {
    get capabilities() {
      return storage.capabilities;
    },
    put: (key, body, options?: PutObjectOptions) =>
      p.run(
        replayable(body) && options?.ifNoneMatch === undefined ? putAgain : putOnce,
        options?.signal,
        (signal) => storage.put(key, body, withSignal(options, signal)),
      ),
    get: async (key, options) => {
      const held = await p.open(
        get,
        options?.signal,
        (signal) => storage.get(key, withSignal(options, signal)),
        {
          abandon: (result) => result.body.destroy(),
        },
      );
      releaseOnClose(held.value.body, held.release);
      return held.value;
    },
    getBytes: (key, options) =>
      p.run(getBytes, options?.signal, (signal) => storage.getBytes(key, withSignal(options, signal))),
    head: (key, options) =>
      p.run(head, options?.signal, (signal) => storage.head(key, withSignal(options, signal))),
    exists: (key, options) =>
      p.run(exists, options?.signal, (signal) => storage.exists(key, withSignal(options, signal))),
    delete: (key, options) =>
      p.run(del, options?.signal, (signal) => storage.delete(key, withSignal(options, signal))),
    deleteMany: (keys, options) => {
      // A retry must see the same keys: a one-shot iterable would be empty the second time.
      const all = typeof keys === "object" && keys !== null && Symbol.iterator in keys ? [...keys] : keys;
      return p.run(deleteMany, options?.signal, (signal) =>
        storage.deleteMany(all, withSignal(options, signal)),
      );
    },
    list: (options?: ListObjectsOptions): AsyncIterable<ObjectSummary> => ({
      // Page by page through listPage, so that each page is one call of the policy.
      async *[Symbol.asyncIterator]() {
        let after: string | undefined;
        do {
          const pageOptions = after === undefined ? options : { ...options, after };
          const page = await decorated.listPage(pageOptions);
          yield* page.items;
          after = page.nextCursor;
        } while (after !== undefined);
      },
    }),
    listPage: (options) =>
      p.run(listPage, options?.signal, (signal) => storage.listPage(withSignal(options, signal))),
    copy: (sourceKey, destinationKey, options) =>
      p.run(copy, options?.signal, (signal) =>
        storage.copy(sourceKey, destinationKey, withSignal(options, signal)),
      ),
    signedUrl: (key, options) => p.run(signedUrl, undefined, () => storage.signedUrl(key, options)),
    close: () => storage.close(),
    [Symbol.asyncDispose]: () => storage.close(),
  };
  return decorated;
}
