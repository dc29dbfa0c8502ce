// Writes one XLSX worksheet whose XML passes 4 GiB (cheap, repetitive rows, so the file itself stays
// small), then has Python's zipfile (the reader openpyxl uses) list it and inflate every entry against
// its CRC. Not part of the unit suite: it writes ~4.4 GB of XML through deflate (minutes).
// Run: pnpm --filter @proj/report-openreport build && node bench/zip64-check.mjs
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createOpenReportGenerator, writeReportFile } from "../dist/index.js";

const ROWS = Number(process.env.ROWS ?? 1_048_000);
const TEXT = "z".repeat(Number(process.env.CHARS ?? 4_200));

function* rows() {
  for (let i = 0; i < ROWS; i += 1) yield { id: i, text: TEXT };
}

const dir = await mkdtemp(join(tmpdir(), "report-zip64-"));
const path = join(dir, "big.xlsx");
try {
  const started = process.hrtime.bigint();
  const result = await writeReportFile(
    createOpenReportGenerator(),
    {
      sheets: [
        {
          name: "Big",
          columns: [
            { header: "Id", key: "id", type: "integer" },
            { header: "Text", key: "text", type: "string" },
          ],
          rows: rows(),
        },
      ],
    },
    path,
    { format: "xlsx" },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `wrote ${result.rowCount.toLocaleString("en-US")} rows in ${seconds.toFixed(1)} s, file ${((await stat(path)).size / 2 ** 20).toFixed(1)} MiB`,
  );
  const script = [
    "import sys, zipfile",
    "z = zipfile.ZipFile(sys.argv[1])",
    "info = z.getinfo('xl/worksheets/sheet1.xml')",
    "print('sheet1.xml uncompressed', info.file_size, 'bytes, past 4 GiB:', info.file_size > 2**32)",
    "print('testzip (inflate + CRC of every entry):', z.testzip() or 'all entries OK')",
  ].join("\n");
  const { stdout } = await promisify(execFile)("python3", ["-c", script, path], { maxBuffer: 1 << 20 });
  process.stdout.write(stdout);
  console.log(
    `load average ${(await import("node:os"))
      .loadavg()
      .map((n) => n.toFixed(1))
      .join(" ")}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
