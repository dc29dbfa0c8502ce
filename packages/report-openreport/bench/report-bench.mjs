// 1,000,000 rows x 10 mixed columns to a file, in one process, side by side:
//   deflate-floor    zlib deflate level 1 of our sheet's XML alone (no XML building): the XLSX floor
//   csv-plain        a plain hand-written CSV loop: the CSV floor
//   openreport-xlsx  this package, XLSX with column formats, in-process engine
//   openreport-xlsx-process  the same engine behind the child-process protocol (the cost of the boundary)
//   openreport-csv   this package, CSV
//   exceljs-raw      exceljs' streaming WorkbookWriter, no styles (the issue's baseline)
//   exceljs-styled   exceljs with the same formats as ours (slow; only when named in PHASES)
// Run: pnpm --filter @proj/report-openreport build && pnpm --filter @proj/report-openreport bench
//      (ROWS=100000 for a quick run, PHASES=a,b to pick)
//
// Peak RSS per phase: phases run one after another; before each, two forced GCs (--expose-gc) and a
// short pause give a settled baseline, then RSS is sampled every 10 ms while the phase runs. Samples
// miss what a synchronous stretch does between timer ticks, so the process's own high-water mark
// (getrusage maxrss) is read too: when a phase raised it, that mark is the phase's exact peak. "grew"
// is peak minus the baseline. openreport-xlsx runs first, so its peak is that of a fresh process
// rather than of one that already ran other phases. The exceljs phases run last because the memory they take is not all
// handed back to the OS afterwards. The child-process phase's peak adds the engine process's RSS,
// sampled from /proc every 10 ms (Linux). The load average is printed with every phase: the machine
// is shared.
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { open, readFile, stat, unlink } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createDeflateRaw, createInflateRaw } from "node:zlib";
import ExcelJS from "exceljs";
import { createOpenReportGenerator } from "../dist/index.js";

const ROWS = Number(process.env.ROWS ?? 1_000_000);
/** Rounds of the fast phases, interleaved (each round runs every phase once); exceljs runs once, last. */
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PHASES = (
  process.env.PHASES ??
  "openreport-xlsx,deflate-floor,csv-plain,openreport-csv,openreport-xlsx-process,exceljs-raw"
).split(",");
const ENGINE_CHILD = fileURLToPath(new URL("../dist/engine-child.js", import.meta.url));
const SHEET_XML = join(tmpdir(), `report-bench-${process.pid}-sheet1.xml`);

const COLUMNS = [
  { header: "Id", key: "id", type: "integer", width: 10 },
  { header: "Customer", key: "customer", type: "string", width: 24 },
  { header: "Email", key: "email", type: "string", width: 30 },
  { header: "Amount", key: "amount", type: "currency", width: 14 },
  { header: "Discount", key: "discount", type: "percent", width: 10 },
  { header: "Quantity", key: "quantity", type: "integer", width: 10 },
  { header: "Unit price", key: "price", type: "number", width: 12 },
  { header: "Ordered", key: "ordered", type: "date", width: 12 },
  { header: "Paid", key: "paid", type: "boolean", width: 8 },
  { header: "Note", key: "note", type: "string", width: 40 },
];
const NOTES = [
  "",
  "priority",
  "gift wrap, please",
  'call "before" delivery',
  "=not a formula",
  "Grüße aus Köln",
];
const START = Date.UTC(2024, 0, 1);

function* rows() {
  for (let i = 0; i < ROWS; i += 1) {
    yield {
      id: i + 1,
      customer: `Customer ${(i * 7919) % 100_003}`,
      email: `user${i % 50_000}@example.com`,
      amount: ((i * 37) % 1_000_000) / 100,
      discount: (i % 20) / 100,
      quantity: (i % 97) + 1,
      price: ((i * 13) % 10_000) / 100,
      ordered: new Date(START + (i % 3650) * 86_400_000),
      paid: i % 3 !== 0,
      note: i % 5 === 0 ? null : NOTES[i % NOTES.length],
    };
  }
}

async function drained(stream) {
  if (stream.writableNeedDrain) await once(stream, "drain");
}

function csvField(value) {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const writers = {
  /** The CSV floor: join fields, escape minimally, write with back-pressure. */
  async "csv-plain"(file) {
    const out = createWriteStream(file);
    let chunk = `${COLUMNS.map((c) => c.header).join(",")}\r\n`;
    for (const row of rows()) {
      chunk += `${COLUMNS.map((c) => csvField(row[c.key])).join(",")}\r\n`;
      if (chunk.length > 65_536) {
        out.write(chunk);
        chunk = "";
        await drained(out);
      }
    }
    out.end(chunk);
    await once(out, "finish");
  },
  async "openreport-xlsx"(file) {
    const generator = createOpenReportGenerator();
    const definition = { title: "Orders", sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await generator.generate(definition, createWriteStream(file), { format: "xlsx" });
  },
  /** The XLSX floor: deflate level 1 of the sheet XML the XLSX phase wrote, read from a file. */
  async "deflate-floor"() {
    let compressed = 0;
    await pipeline(
      createReadStream(SHEET_XML, { highWaterMark: 64 * 1024 }),
      createDeflateRaw({ level: 1 }),
      async (source) => {
        for await (const chunk of source) compressed += chunk.length;
      },
    );
    return compressed;
  },
  /** The same XLSX through the engine protocol: our engine in a child process, the reference. */
  async "openreport-xlsx-process"(file) {
    const generator = createOpenReportGenerator({
      processEngines: [{ format: "xlsx", command: process.execPath, args: [ENGINE_CHILD] }],
    });
    const definition = { title: "Orders", sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await generator.generate(definition, createWriteStream(file), { format: "xlsx" });
  },
  async "openreport-csv"(file) {
    const generator = createOpenReportGenerator();
    const definition = { sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await generator.generate(definition, createWriteStream(file), { format: "csv" });
  },
  /** The baseline: exceljs' streaming writer as the issue measured it (no styles, no shared strings). */
  async "exceljs-raw"(file) {
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
      filename: file,
      useStyles: false,
      useSharedStrings: false,
    });
    const sheet = workbook.addWorksheet("Orders");
    sheet.columns = COLUMNS.map((c) => ({ header: c.header, key: c.key, width: c.width }));
    for (const row of rows()) sheet.addRow(row).commit();
    sheet.commit();
    await workbook.commit();
  },
  /** exceljs with what openreport writes by default: column number formats and a bold header. */
  async "exceljs-styled"(file) {
    const formats = {
      integer: "0",
      number: "0.00",
      currency: "#,##0.00",
      percent: "0.00%",
      date: "yyyy-mm-dd",
    };
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
      filename: file,
      useStyles: true,
      useSharedStrings: false,
    });
    const sheet = workbook.addWorksheet("Orders", { views: [{ state: "frozen", ySplit: 1 }] });
    sheet.columns = COLUMNS.map((c) => ({
      header: c.header,
      key: c.key,
      width: c.width,
      style: formats[c.type] ? { numFmt: formats[c.type] } : {},
    }));
    sheet.getRow(1).font = { bold: true };
    for (const row of rows()) sheet.addRow(row).commit();
    sheet.commit();
    await workbook.commit();
  },
};

async function settle() {
  for (let i = 0; i < 2; i += 1) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Writes the first entry (xl/worksheets/sheet1.xml) of an archive of ours to SHEET_XML, untimed. */
async function extractSheetXml(xlsx) {
  const handle = await open(xlsx);
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(22);
    await handle.read(tail, 0, 22, size - 22);
    const central = Buffer.alloc(46);
    await handle.read(central, 0, 46, tail.readUInt32LE(16));
    const compressedSize = central.readUInt32LE(20);
    const local = Buffer.alloc(30);
    await handle.read(local, 0, 30, 0);
    const start = 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    await pipeline(
      createReadStream(xlsx, { start, end: start + compressedSize - 1 }),
      createInflateRaw(),
      createWriteStream(SHEET_XML),
    );
  } finally {
    await handle.close();
  }
}

/** RSS of this process's children (the engine process), from /proc; 0 where that is not readable. */
async function childrenRss() {
  let total = 0;
  try {
    const tasks = await readFile(`/proc/${process.pid}/task/${process.pid}/children`, "utf8");
    for (const pid of tasks.split(" ").filter(Boolean)) {
      const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
      const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      if (kb) total += Number(kb) * 1024;
    }
  } catch {
    return 0;
  }
  return total;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(" ");

async function runPhase(name) {
  const file = join(tmpdir(), `report-bench-${process.pid}-${name}.${name.includes("csv") ? "csv" : "xlsx"}`);
  if (name === "deflate-floor") {
    const xlsx = join(tmpdir(), `report-bench-${process.pid}-floor-source.xlsx`);
    await writers["openreport-xlsx"](xlsx);
    await extractSheetXml(xlsx);
    await unlink(xlsx);
  }
  const loadBefore = load();
  await settle();
  const base = process.memoryUsage.rss();
  let peak = base;
  let childPeakRss = 0;
  const sampler = setInterval(() => {
    if (name === "openreport-xlsx-process") {
      const own = process.memoryUsage.rss();
      childrenRss().then((rss) => {
        childPeakRss = Math.max(childPeakRss, rss);
        peak = Math.max(peak, own + rss);
      });
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    const highWater = process.resourceUsage().maxRSS * 1024;
    if (highWater > highWaterBefore) peak = Math.max(peak, highWater);
  }, 10);
  const highWaterBefore = process.resourceUsage().maxRSS * 1024;
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  const childPeak = await writers[name](file);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // CPU time of every thread of this process (main, libuv's pool), not of a child process.
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  const highWater = process.resourceUsage().maxRSS * 1024;
  if (highWater > highWaterBefore) peak = Math.max(peak, highWater);
  let size;
  if (name === "deflate-floor") {
    size = childPeak;
    peak = Math.max(peak, process.memoryUsage.rss());
    await unlink(SHEET_XML);
  } else {
    ({ size } = await stat(file));
    await unlink(file);
  }
  return {
    load: `${loadBefore} -> ${load()}`,
    childMb: childPeakRss / 2 ** 20,
    name,
    seconds,
    cpuSeconds,
    rowsPerSecond: ROWS / seconds,
    peakMb: peak / 2 ** 20,
    grewMb: (peak - base) / 2 ** 20,
    sizeMb: size / 2 ** 20,
  };
}

if (typeof globalThis.gc !== "function") console.warn("run with --expose-gc for settled per-phase baselines");
console.log(`rows=${ROWS} columns=${COLUMNS.length} node=${process.version} load average ${load()}`);
const results = {};
const rounds = [];
const ONCE = new Set(["exceljs-raw", "exceljs-styled"]);
const show = (label, r) => {
  if (r.childMb > 0) console.log(`  (engine process peak ${r.childMb.toFixed(0)} MB, in the peak RSS below)`);
  console.log(
    `${label.padEnd(30)} ${r.seconds.toFixed(2).padStart(7)} s (cpu ${r.cpuSeconds.toFixed(2)} s)  ${Math.round(r.rowsPerSecond).toLocaleString("en-US").padStart(9)} rows/s  peak RSS ${r.peakMb.toFixed(0).padStart(4)} MB (grew ${r.grewMb.toFixed(0)} MB)  ${r.name === "deflate-floor" ? "deflated" : "file"} ${r.sizeMb.toFixed(1)} MB  load ${r.load}`,
  );
};
for (let round = 1; round <= ROUNDS; round += 1) {
  const byName = {};
  for (const name of PHASES.filter((phase) => !ONCE.has(phase))) {
    const r = await runPhase(name);
    byName[name] = r;
    show(`${name} #${round}`, r);
  }
  rounds.push(byName);
}
for (const name of PHASES.filter((phase) => ONCE.has(phase))) {
  const r = await runPhase(name);
  rounds[0] ??= {};
  rounds[0][name] = r;
  show(name, r);
}
const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
console.log(`summary over ${ROUNDS} interleaved rounds (median, min-max):`);
for (const name of PHASES) {
  const runs = rounds.map((byName) => byName[name]).filter(Boolean);
  if (runs.length === 0) continue;
  const seconds = runs.map((r) => r.seconds);
  results[name] = {
    ...runs[0],
    seconds: median(seconds),
    rowsPerSecond: ROWS / median(seconds),
    // openreport-xlsx's first round runs in a fresh process: that is its peak; later rounds run in a
    // process that already ran the others.
    peakMb: name === "openreport-xlsx" ? runs[0].peakMb : Math.max(...runs.map((r) => r.peakMb)),
  };
  console.log(
    `${name.padEnd(24)} ${median(seconds).toFixed(2).padStart(7)} s (${Math.min(...seconds).toFixed(2)}-${Math.max(...seconds).toFixed(2)})  peak RSS ${results[name].peakMb.toFixed(0)} MB`,
  );
}
const paired = (label, a, b, of) => {
  const values = rounds.filter((byName) => byName[a] && byName[b]).map((byName) => of(byName[a], byName[b]));
  if (values.length === 0) return;
  console.log(
    `per-round ratio ${label}: ${values.map((v) => v.toFixed(2)).join(" ")} (median ${median(values).toFixed(2)})`,
  );
};
paired(
  "openreport-xlsx time / deflate-floor time",
  "openreport-xlsx",
  "deflate-floor",
  (x, y) => x.seconds / y.seconds,
);
paired(
  "openreport-xlsx CPU time / deflate-floor CPU time (what two free cores would share)",
  "openreport-xlsx",
  "deflate-floor",
  (x, y) => x.cpuSeconds / y.cpuSeconds,
);
paired(
  "openreport-csv / csv-plain throughput",
  "openreport-csv",
  "csv-plain",
  (x, y) => y.seconds / x.seconds,
);
const ratio = (label, a, b, key, better) => {
  if (!results[a] || !results[b]) return;
  console.log(`ratio ${label} (medians): ${(results[a][key] / results[b][key]).toFixed(2)}x (${better})`);
};
ratio(
  "openreport-xlsx time / deflate-floor time",
  "openreport-xlsx",
  "deflate-floor",
  "seconds",
  "goal <= 2.0",
);
ratio("openreport-csv / csv-plain throughput", "openreport-csv", "csv-plain", "rowsPerSecond", "goal >= 1.0");
ratio(
  "openreport-xlsx / exceljs-raw throughput",
  "openreport-xlsx",
  "exceljs-raw",
  "rowsPerSecond",
  "higher is better",
);
ratio(
  "openreport-xlsx / exceljs-styled throughput",
  "openreport-xlsx",
  "exceljs-styled",
  "rowsPerSecond",
  "higher is better",
);
ratio(
  "openreport-xlsx / exceljs-raw peak RSS",
  "openreport-xlsx",
  "exceljs-raw",
  "peakMb",
  "lower is better",
);
ratio(
  "openreport-xlsx / exceljs-raw file size",
  "openreport-xlsx",
  "exceljs-raw",
  "sizeMb",
  "lower is smaller",
);
ratio(
  "openreport-xlsx-process time / openreport-xlsx time",
  "openreport-xlsx-process",
  "openreport-xlsx",
  "seconds",
  "the cost of the process boundary",
);
if (results["openreport-xlsx"]) {
  const mb = results["openreport-xlsx"].peakMb;
  console.log(`openreport-xlsx peak RSS ${mb.toFixed(0)} MB: ${mb < 128 ? "under" : "OVER"} the 128 MB goal`);
}
console.log(`load average at the end ${load()} on ${(await import("node:os")).availableParallelism()} cores`);
