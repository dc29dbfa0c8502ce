import { cancelledError, throwIfAborted } from "@proj/ports";

/** Everything either port accepts as a body. */
export type Body = Uint8Array | string | AsyncIterable<Uint8Array | string> | ReadableStream<Uint8Array>;

/** Rejects with the cancellation error as soon as `signal` fires, whatever `promise` does. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError(signal, what));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function iteratorOf(body: Body): AsyncIterator<Uint8Array | string> {
  if (typeof body === "string" || body instanceof Uint8Array) {
    let sent = false;
    return {
      next: async () => {
        if (sent) return { done: true, value: undefined };
        sent = true;
        return { done: false, value: body };
      },
    };
  }
  if (body instanceof ReadableStream) {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    return {
      next: async () => {
        const { done, value } = await reader.read();
        return done ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        await reader.cancel();
        return { done: true, value: undefined };
      },
    };
  }
  return body[Symbol.asyncIterator]();
}

/**
 * Yields the body as byte chunks, one at a time (the consumer's awaits are the back-pressure).
 * A fired `signal` ends the wait for a stalled source at once, and the source is released.
 */
export async function* bodyChunks(
  body: Body,
  signal: AbortSignal | undefined,
  what: string,
): AsyncGenerator<Uint8Array> {
  const iterator = iteratorOf(body);
  let finished = false;
  try {
    for (;;) {
      throwIfAborted(signal, what);
      const next = iterator.next();
      // A chunk that arrives after cancellation is dropped; its failure must not go unhandled.
      next.catch(() => undefined);
      const result = await raceAbort(next, signal, what);
      if (result.done) break;
      yield typeof result.value === "string" ? Buffer.from(result.value, "utf8") : result.value;
    }
    finished = true;
  } finally {
    if (!finished) Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
