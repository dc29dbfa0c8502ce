import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ReportColumn, ReportRow } from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenReportGenerator } from "../src/index.js";
import { bundleEngineChild } from "./engine-child-bundle.js";

const COLUMNS: ReportColumn[] = [
  { header: "Id", key: "id", type: "integer" },
  { header: "Text", key: "text", type: "string" },
];

function* rows(count: number): Generator<ReportRow> {
  for (let i = 0; i < count; i += 1) yield { id: i, text: `row ${i} ${"x".repeat(i % 50)}` };
}

let bundled: string | undefined;
async function childEngine(): Promise<string> {
  bundled ??= await bundleEngineChild();
  return bundled;
}

describe("cancelling a report that streams into a plain file stream", () => {
  let dir: string;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "report-cancel-"));
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
  });
  afterAll(async () => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    await rm(dir, { recursive: true, force: true });
    if (bundled !== undefined) await rm(dirname(bundled), { recursive: true, force: true });
  });

  it.each([
    { format: "xlsx", engine: "in-process" },
    { format: "csv", engine: "in-process" },
    { format: "xlsx", engine: "child-process" },
  ] as const)(
    "never leaves an unhandled error behind when $format reports ($engine engine) are aborted or time out mid-stream, 40 times",
    async ({ format, engine }) => {
      const generator =
        engine === "in-process"
          ? createOpenReportGenerator()
          : createOpenReportGenerator({
              processEngines: [{ format, command: process.execPath, args: [await childEngine()] }],
            });
      const codes: string[] = [];
      for (let run = 0; run < 40; run += 1) {
        // Half the runs time out, half are aborted by hand, each at a different moment.
        const controller = new AbortController();
        const signal = run % 2 === 0 ? controller.signal : AbortSignal.timeout(1 + (run % 20));
        // No 'error' listener on the stream: the README's own example.
        const output = createWriteStream(join(dir, `r${run}.${format}`));
        const done = generator.generate(
          { sheets: [{ name: "S", columns: COLUMNS, rows: rows(2_000_000) }] },
          output,
          { format, signal },
        );
        if (run % 2 === 0) setTimeout(() => controller.abort(), 1 + (run % 20));
        codes.push(
          await done.then(
            () => "OK",
            (error: { code: string }) => error.code,
          ),
        );
        // Lets the stream's pending write callbacks and close run before the next report.
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      expect(uncaught).toEqual([]);
      expect(codes.filter((code, run) => code !== (run % 2 === 0 ? "CANCELLED" : "TIMEOUT"))).toEqual([]);
    },
  );
});
