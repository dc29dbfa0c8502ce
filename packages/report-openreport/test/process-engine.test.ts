import { expectErrorCode } from "@proj/contract-tests";
import type { ReportColumn, ReportRow } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createOpenReportGenerator } from "../src/index.js";
import { MemoryOutput } from "./collect.js";

const COLUMNS: ReportColumn[] = [{ header: "N", key: "n", type: "integer" }];

function* rows(count: number): Generator<ReportRow> {
  for (let n = 0; n < count; n += 1) yield { n };
}

async function failure(command: string, args: string[]) {
  const output = new MemoryOutput();
  const generator = createOpenReportGenerator({ processEngines: [{ format: "csv", command, args }] });
  const error = await expectErrorCode(
    generator.generate({ sheets: [{ name: "S", columns: COLUMNS, rows: rows(10) }] }, output, {
      format: "csv",
    }),
    "INTERNAL",
  );
  expect(output.destroyed).toBe(true);
  return error;
}

describe("an engine in a child process", () => {
  it("fails with INTERNAL when the engine cannot be started", async () => {
    const error = await failure("/nonexistent/report-engine", []);
    expect(error.message).toContain("could not be started");
  });

  it("fails with INTERNAL, naming the exit code and stderr, when the engine dies mid-report", async () => {
    const error = await failure(process.execPath, ["-e", "console.error('engine broke'); process.exit(3)"]);
    expect(error.message).toMatch(/exited \(code 3.*engine broke/);
  });

  it("fails with INTERNAL when the engine answers with an unknown error code", async () => {
    // A hand-written engine: reads nothing, answers with one ERROR frame.
    const script =
      "const p=Buffer.from(JSON.stringify({code:'WHATEVER',message:'m'}));" +
      "const h=Buffer.alloc(5);h[0]=0x14;h.writeUInt32LE(p.length,1);process.stdout.write(Buffer.concat([h,p]));";
    const error = await failure(process.execPath, ["-e", script]);
    expect(error.message).toContain("unknown code");
  });

  it("passes a taxonomy code the engine sends through unchanged", async () => {
    const script =
      "const p=Buffer.from(JSON.stringify({code:'RESOURCE_EXHAUSTED',message:'engine out of memory'}));" +
      "const h=Buffer.alloc(5);h[0]=0x14;h.writeUInt32LE(p.length,1);process.stdout.write(Buffer.concat([h,p]));";
    const generator = createOpenReportGenerator({
      processEngines: [{ format: "xlsx", command: process.execPath, args: ["-e", script] }],
    });
    const error = await expectErrorCode(
      generator.generate({ sheets: [{ name: "S", columns: COLUMNS, rows: rows(10) }] }, new MemoryOutput(), {
        format: "xlsx",
      }),
      "RESOURCE_EXHAUSTED",
    );
    expect(error.message).toBe("engine out of memory");
  });
});
