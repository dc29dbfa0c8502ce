import type { ReportColumn, ReportRow } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import { CollectingWritable, CountingRows, FORMATS, type ReportGeneratorHarness } from "./harness.js";

const COLUMNS: readonly ReportColumn[] = [
  { header: "Name", key: "name", type: "string" },
  { header: "Count", key: "count", type: "integer" },
];

/** True when `error` is `target` or has it somewhere in its `cause` chain. */
function carries(error: unknown, target: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 10; depth += 1) {
    if (current === target) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

export function failureTests(harness: ReportGeneratorHarness): void {
  describe("failures", () => {
    describe.each(FORMATS)("%s", (format) => {
      const skip = !harness.formats.includes(format);

      it.skipIf(skip)("rejects and destroys the output when an async row iterator throws", async () => {
        const generator = await harness.create();
        const output = new CollectingWritable();
        const boom = new Error("row source broke");
        async function* rows(): AsyncGenerator<ReportRow> {
          yield { name: "a", count: 1 };
          yield { name: "b", count: 2 };
          throw boom;
        }
        const error = await generator
          .generate({ sheets: [{ name: "Data", columns: COLUMNS, rows: rows() }] }, output, { format })
          .then(
            () => undefined,
            (caught: unknown) => caught,
          );
        expect(error, "generate must reject").toBeDefined();
        expect(carries(error, boom), "the row source's error must be the rejection or its cause").toBe(true);
        expect(output.destroyed).toBe(true);
      });

      it.skipIf(skip)("rejects and destroys the output when a sync row iterator throws", async () => {
        const generator = await harness.create();
        const output = new CollectingWritable();
        const boom = new Error("sync row source broke");
        function* rows(): Generator<ReportRow> {
          yield { name: "a", count: 1 };
          throw boom;
        }
        const error = await generator
          .generate({ sheets: [{ name: "Data", columns: COLUMNS, rows: rows() }] }, output, { format })
          .then(
            () => undefined,
            (caught: unknown) => caught,
          );
        expect(carries(error, boom), "the row source's error must be the rejection or its cause").toBe(true);
        expect(output.destroyed).toBe(true);
      });

      it.skipIf(skip)("rejects with CANCELLED and destroys the output when aborted mid-report", async () => {
        const generator = await harness.create();
        const output = new CollectingWritable();
        const controller = new AbortController();
        async function* rows(): AsyncGenerator<ReportRow> {
          for (let i = 0; i < 10_000; i += 1) {
            if (i === 5) controller.abort();
            if (i % 100 === 0) await sleep(1);
            yield { name: `r${i}`, count: i };
          }
        }
        await expectErrorCode(
          generator.generate({ sheets: [{ name: "Data", columns: COLUMNS, rows: rows() }] }, output, {
            format,
            signal: controller.signal,
          }),
          "CANCELLED",
        );
        expect(output.destroyed).toBe(true);
      });

      it.skipIf(skip)(
        "rejects with CANCELLED without pulling a row when the signal is already aborted",
        async () => {
          const generator = await harness.create();
          const output = new CollectingWritable();
          const rows = new CountingRows(10, (i) => ({ name: `r${i}`, count: i }));
          await expectErrorCode(
            generator.generate({ sheets: [{ name: "Data", columns: COLUMNS, rows }] }, output, {
              format,
              signal: AbortSignal.abort(),
            }),
            "CANCELLED",
          );
          expect(rows.pulled).toBe(0);
          expect(output.destroyed).toBe(true);
        },
      );

      it.skipIf(skip)("rejects with TIMEOUT when an AbortSignal.timeout fires", async () => {
        const generator = await harness.create();
        const output = new CollectingWritable();
        async function* slowRows(): AsyncGenerator<ReportRow> {
          for (let i = 0; i < 1_000; i += 1) {
            await sleep(10);
            yield { name: `r${i}`, count: i };
          }
        }
        await expectErrorCode(
          generator.generate({ sheets: [{ name: "Data", columns: COLUMNS, rows: slowRows() }] }, output, {
            format,
            signal: AbortSignal.timeout(50),
          }),
          "TIMEOUT",
        );
        expect(output.destroyed).toBe(true);
      });
    });
  });
}
