import type { Writable } from "node:stream";
import { setImmediate } from "node:timers/promises";
import { cancelledError } from "@proj/ports";

/** Chunks written without a turn of the event loop before we make one (about 1 MB). */
const CHUNKS_PER_YIELD = 16;

/**
 * Watches the output and the signal for whatever makes finishing impossible, and makes each wait
 * below fail as soon as that happens. One settable rejecter rather than racing every wait against
 * one long-lived promise, which would pile up a reaction per chunk for the life of the report.
 */
class Watch {
  private failed = false;
  private error: unknown;
  private wake: ((error: unknown) => void) | undefined;
  readonly dispose: () => void;

  constructor(output: Writable, signal: AbortSignal | undefined, what: string) {
    const onError = (error: Error) => this.fail(error);
    const onClose = () => {
      if (!output.writableFinished) {
        this.fail(
          Object.assign(new Error("the output closed early"), { code: "ERR_STREAM_PREMATURE_CLOSE" }),
        );
      }
    };
    const onAbort = () => this.fail(cancelledError(signal!, `writing the ${what}`));
    output.on("error", onError);
    output.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.dispose = () => {
      output.off("error", onError);
      output.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
  }

  /** `promise`, unless the output fails or the signal fires first. */
  guard<T>(promise: PromiseLike<T>): Promise<T> {
    if (this.failed) return Promise.reject(this.error);
    return new Promise<T>((resolve, reject) => {
      this.wake = reject;
      promise.then(resolve, reject);
    });
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = error;
    this.wake?.(error);
  }
}

/**
 * Writes `source` to `output` chunk by chunk, pulling the next chunk only after `write` accepted the
 * last one or `drain` followed, then ends `output` and waits for `finish`. Returns the bytes written.
 */
export async function writeAll(
  source: AsyncIterable<Buffer>,
  output: Writable,
  signal: AbortSignal | undefined,
  what: string,
): Promise<number> {
  const iterator = source[Symbol.asyncIterator]();
  const watch = new Watch(output, signal, what);
  let bytes = 0;
  let chunksSinceYield = 0;
  try {
    for (;;) {
      const step = await watch.guard(iterator.next());
      if (signal?.aborted) throw cancelledError(signal, `writing the ${what}`);
      if (step.done) break;
      bytes += step.value.length;
      if (!output.write(step.value)) {
        await watch.guard(new Promise((resolve) => output.once("drain", resolve)));
        chunksSinceYield = 0;
      } else if (++chunksSinceYield === CHUNKS_PER_YIELD) {
        // An output that never pushes back (in memory, synchronous) and a synchronous row source
        // would otherwise hold the event loop for the whole report.
        chunksSinceYield = 0;
        await watch.guard(setImmediate());
      }
    }
    output.end();
    await watch.guard(new Promise((resolve) => output.once("finish", resolve)));
    return bytes;
  } catch (error) {
    // Lets the engine close the row iterators it holds; it may still be waiting on one.
    iterator.return?.(undefined).catch(() => {});
    throw error;
  } finally {
    watch.dispose();
  }
}
