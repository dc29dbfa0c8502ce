import { pipeline, type Readable, Transform } from "node:stream";
import { context } from "@opentelemetry/api";
import { ATTR } from "./attributes.js";
import type { Call, Telemetry } from "./telemetry.js";

/**
 * Wraps an async iterable so that each iteration is one span, started by `start` when iteration
 * begins and ended when the iterator is done, throws, or is returned early (`break`), with the
 * number of items seen under `countKey` and `proj.stream.completed`. Every step of the source
 * runs inside the span. An iterable never iterated records nothing.
 */
export function tracedIterable<T>(
  telemetry: Telemetry,
  source: AsyncIterable<T>,
  start: () => Call,
  countKey: string,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const call = start();
      let count = 0;
      const finish = (completed: boolean, error?: unknown, failed = false) => {
        if (call.ended) return;
        call.span.setAttribute(countKey, count);
        call.span.setAttribute(ATTR.streamCompleted, completed);
        telemetry.end(call, error, failed);
      };
      let iterator: AsyncIterator<T>;
      try {
        iterator = context.with(call.context, () => source[Symbol.asyncIterator]());
      } catch (error) {
        finish(false, error, true);
        throw error;
      }
      const settle = (step: () => Promise<IteratorResult<T>>, early: boolean) => {
        let pending: Promise<IteratorResult<T>>;
        try {
          pending = context.with(call.context, step);
        } catch (error) {
          finish(false, error, true);
          throw error;
        }
        return Promise.resolve(pending).then(
          (result) => {
            if (early) finish(false);
            else if (result.done) finish(true);
            else count++;
            return result;
          },
          (error: unknown) => {
            finish(false, error, true);
            throw error;
          },
        );
      };
      const wrapped: AsyncIterator<T> = {
        next: (...args: [] | [undefined]) => settle(() => iterator.next(...args), false),
        return: (value?: unknown) => {
          const inner = iterator.return;
          if (inner === undefined) {
            finish(false);
            return Promise.resolve({ done: true, value: value as T });
          }
          return settle(() => inner.call(iterator, value), true);
        },
      };
      if (typeof iterator.throw === "function") {
        const inner = iterator.throw;
        wrapped.throw = (error?: unknown) => settle(() => inner.call(iterator, error), true);
      }
      return wrapped;
    },
  };
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === "string") return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * A readable that passes `source` through unchanged while counting its bytes, and ends `call`
 * when the body has been read to its end (`proj.stream.completed: true`), failed (the error's
 * code as `error.type`), or was destroyed by the reader before its end (`false`). Destroying
 * the returned stream destroys `source`, and an error of `source` reaches the reader as is.
 */
export function tracedReadable(telemetry: Telemetry, source: Readable, call: Call): Readable {
  let bytes = 0;
  let ended = false;
  let readerStopped = false;
  let sourceError: unknown;
  let sourceFailed = false;
  const counter = new Transform({
    transform(chunk, _encoding, callback) {
      bytes += byteLength(chunk);
      callback(null, chunk);
    },
  });
  counter.once("end", () => {
    ended = true;
  });
  // Registered before the pipeline's own listeners, so each runs first: a reader that destroys the
  // stream closes it before the pipeline tears the source down (with a premature-close error that
  // is no failure of the source), while a failing source errors before the pipeline closes it.
  counter.once("close", () => {
    if (!ended && !sourceFailed) readerStopped = true;
  });
  source.once("error", (error) => {
    if (readerStopped) return;
    sourceError = error;
    sourceFailed = true;
  });
  pipeline(source, counter, () => {
    if (call.ended) return;
    call.span.setAttribute(ATTR.bytes, bytes);
    call.span.setAttribute(ATTR.streamCompleted, ended && !sourceFailed);
    if (sourceFailed) telemetry.end(call, sourceError, true);
    else telemetry.end(call);
  });
  return counter;
}
