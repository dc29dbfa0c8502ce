import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { sleep } from "../harness.js";
import {
  CountingRows,
  FORMATS,
  INCOMPRESSIBLE_COLUMNS,
  incompressibleRow,
  type ReportGeneratorHarness,
} from "./harness.js";

const TOTAL_ROWS = 20_000;
/**
 * How far a generator may pull ahead of its output: 5,000 rows of 200 random hex digits is 1 MB of
 * row data, room for any sensible buffer, and a quarter of the rows, so an engine that ignores
 * back-pressure (and pulls them all) fails.
 */
const SLACK_ROWS = 5_000;
/**
 * 200 random hex digits carry 100 bytes of entropy, so no encoding, compressed or not, holds such a
 * row in fewer bytes: the bytes an output accepted hold at most `accepted / 100` rows, and a
 * generator that honours back-pressure has pulled at most that plus what it buffers.
 */
const MIN_BYTES_PER_ROW = 100;

/** A small-buffered output whose callbacks wait, held entirely while `stalled`. */
class SlowWritable extends Writable {
  accepted = 0;
  stalled = false;
  readonly samples: { pulled: number; accepted: number }[] = [];
  private held: (() => void)[] = [];

  constructor(
    private readonly rows: CountingRows,
    private readonly delayMs: number,
  ) {
    super({ highWaterMark: 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.samples.push({ pulled: this.rows.pulled, accepted: this.accepted });
    const done = () => {
      this.accepted += chunk.length;
      callback();
    };
    if (this.stalled) this.held.push(done);
    else setTimeout(done, this.delayMs);
  }

  release(): void {
    this.stalled = false;
    for (const done of this.held.splice(0)) done();
  }
}

/** Waits until `read()` has not changed for `quietMs`, or `timeoutMs` passed. */
async function settled(read: () => number, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(25);
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}

export function backPressureTests(harness: ReportGeneratorHarness): void {
  describe("back-pressure", () => {
    describe.each(FORMATS)("%s", (format) => {
      const skip = !harness.formats.includes(format);

      it.skipIf(skip)(
        "stops pulling rows while the output does not drain, and finishes once it does",
        async () => {
          const generator = await harness.create();
          const rows = new CountingRows(TOTAL_ROWS, incompressibleRow);
          const output = new SlowWritable(rows, 0);
          output.stalled = true;
          const done = generator.generate(
            { sheets: [{ name: "Data", columns: INCOMPRESSIBLE_COLUMNS, rows }] },
            output,
            { format },
          );
          const pulledWhileStalled = await settled(() => rows.pulled, 300, 10_000);
          expect(pulledWhileStalled, "rows pulled while the output took nothing").toBeLessThan(SLACK_ROWS);
          output.release();
          const result = await done;
          expect(result.rowCount).toBe(TOTAL_ROWS);
          expect(result.byteSize).toBe(output.accepted);
        },
      );

      it.skipIf(skip)("keeps the rows it pulled close to what a slow output accepted", async () => {
        const generator = await harness.create();
        const rows = new CountingRows(TOTAL_ROWS, incompressibleRow);
        const output = new SlowWritable(rows, 2);
        await generator.generate(
          { sheets: [{ name: "Data", columns: INCOMPRESSIBLE_COLUMNS, rows }] },
          output,
          {
            format,
          },
        );
        expect(output.samples.length).toBeGreaterThan(0);
        const worst = Math.max(
          ...output.samples.map((sample) => sample.pulled - sample.accepted / MIN_BYTES_PER_ROW),
        );
        expect(worst, "rows pulled beyond the most the accepted bytes can hold").toBeLessThan(SLACK_ROWS);
        expect(rows.pulled).toBe(TOTAL_ROWS);
      });
    });
  });
}
