// 1,000,000 rows x 10 mixed columns to a file, side by side in one bench run:
//   deflate-floor    zlib deflate level 1 of our sheet's XML alone (no XML building): the XLSX floor
//   rows-only        the row source iterated to the end, nothing written: what the input alone costs
//   csv-plain        a plain hand-written CSV loop: the CSV floor
//   openreport-xlsx  this package, XLSX with column formats, in-process engine
//   openreport-xlsx-semi4    the same as openreport-xlsx in a process started with
//                    `node --max-semi-space-size=4`: V8's young generation capped (a deployment
//                    setting, not the package's), to show how much of the peak is V8's heap sizing
//   openreport-xlsx-process  the same engine behind the child-process protocol (the cost of the boundary)
//   openreport-csv   this package, CSV
//   exceljs-raw      exceljs' streaming WorkbookWriter, no styles (the issue's baseline)
//   exceljs-styled   exceljs with the same formats as ours (slow; only when named in PHASES)
// Run: pnpm --filter @proj/report-openreport build && pnpm --filter @proj/report-openreport bench
//      (ROWS=100000 for a quick run, PHASES=a,b to pick, ROUNDS=3)
//
// One fresh process per contender run. Peak RSS belongs to a process and only ever rises
// (getrusage's maxrss), so contenders sharing one process would inherit each other's peaks and
// modules (exceljs loaded adds ~28 MB). This script drives the run: it writes the floor's sheet XML
// once, untimed, then, round after round, starts `node report-bench.mjs --phase <name>` for each
// contender, one at a time so they never compete for the cores. The child loads only what its
// contender needs (our dist, or exceljs, or nothing), then times the contender (wall and CPU) and
// reports its own getrusage maxrss afterwards: that is the contender's exact peak RSS, the whole
// process (Node itself included, 46–47 MB before any module). "before" is the child's RSS once its
// modules are loaded. The child-process contender also reports its engine process's peak (VmHWM,
// read from /proc every 10 ms while it runs; Linux), shown beside its own. Timing stays side by
// side: every round runs every fast contender once, back to back, and the ratios pair each round's
// figures; exceljs runs once, after the rounds. The load average is printed with every run: the
// machine is shared.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { open, readFile, stat, unlink } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createDeflateRaw, createInflateRaw } from "node:zlib";

const ROWS = Number(process.env.ROWS ?? 1_000_000);
/** Rounds of the fast contenders, interleaved (each round runs every one once); exceljs runs once, last. */
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PHASES = (
  process.env.PHASES ??
  "rows-only,openreport-xlsx,deflate-floor,csv-plain,openreport-csv,openreport-xlsx-semi4,openreport-xlsx-process,exceljs-raw"
).split(",");
const BENCH = fileURLToPath(import.meta.url);
const ENGINE_CHILD = fileURLToPath(new URL("../dist/engine-child.js", import.meta.url));
/** The goal of issue 19 for the XLSX generator's peak RSS. */
const RSS_GOAL_MB = 128;
/** Node flags of a contender's process; the others run with Node's defaults. */
const NODE_FLAGS = { "openreport-xlsx-semi4": ["--max-semi-space-size=4"] };

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

/** What the contender's child loaded: our dist or exceljs (set before the contender runs). */
let lib;
/** The sheet XML the floor deflates (a path given by the driver). */
let floorSource;

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
  /** The input alone: every row made and dropped, so the other contenders' peaks can be read against it. */
  async "rows-only"() {
    let fields = 0;
    for (const row of rows()) fields += Object.keys(row).length;
    return fields;
  },
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
    const generator = lib.createOpenReportGenerator();
    const definition = { title: "Orders", sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await generator.generate(definition, createWriteStream(file), { format: "xlsx" });
  },
  /** The same in a process whose young generation is capped (its flags are in NODE_FLAGS). */
  "openreport-xlsx-semi4"(file) {
    return writers["openreport-xlsx"](file);
  },
  /** The XLSX floor: deflate level 1 of our sheet XML (written once by the driver), read from a file. */
  async "deflate-floor"() {
    let compressed = 0;
    await pipeline(
      createReadStream(floorSource, { highWaterMark: 64 * 1024 }),
      createDeflateRaw({ level: 1 }),
      async (source) => {
        for await (const chunk of source) compressed += chunk.length;
      },
    );
    return compressed;
  },
  /** The same XLSX through the engine protocol: our engine in a child process, the reference. */
  async "openreport-xlsx-process"(file) {
    const generator = lib.createOpenReportGenerator({
      processEngines: [{ format: "xlsx", command: process.execPath, args: [ENGINE_CHILD] }],
    });
    const definition = { title: "Orders", sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await generator.generate(definition, createWriteStream(file), { format: "xlsx" });
  },
  async "openreport-csv"(file) {
    const generator = lib.createOpenReportGenerator();
    const definition = { sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await generator.generate(definition, createWriteStream(file), { format: "csv" });
  },
  /** The baseline: exceljs' streaming writer as the issue measured it (no styles, no shared strings). */
  async "exceljs-raw"(file) {
    const workbook = new lib.default.stream.xlsx.WorkbookWriter({
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
    const workbook = new lib.default.stream.xlsx.WorkbookWriter({
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

/** Writes the first entry (xl/worksheets/sheet1.xml) of an archive of ours to `target`, untimed. */
async function extractSheetXml(xlsx, target) {
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
      createWriteStream(target),
    );
  } finally {
    await handle.close();
  }
}

/** Peak RSS (VmHWM) of this process's children (the engine process), from /proc; 0 where unreadable. */
async function childrenPeakRss() {
  let total = 0;
  try {
    const tasks = await readFile(`/proc/${process.pid}/task/${process.pid}/children`, "utf8");
    for (const pid of tasks.split(" ").filter(Boolean)) {
      const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
      const kb = /VmHWM:\s+(\d+)/.exec(status)?.[1];
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
const MB = 2 ** 20;

/** Child side: runs one contender in this fresh process and prints its figures as one JSON line. */
async function runContender(name, sheetXml) {
  lib = name.startsWith("exceljs")
    ? await import("exceljs")
    : name.startsWith("openreport")
      ? await import("../dist/index.js")
      : undefined;
  floorSource = sheetXml;
  const file = join(tmpdir(), `report-bench-${process.pid}-${name}.${name.includes("csv") ? "csv" : "xlsx"}`);
  const before = process.memoryUsage.rss();
  let enginePeak = 0;
  const sampler =
    name === "openreport-xlsx-process"
      ? setInterval(() => {
          childrenPeakRss().then((rss) => {
            enginePeak = Math.max(enginePeak, rss);
          });
        }, 10)
      : undefined;
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  const deflated = await writers[name](file);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // CPU time of every thread of this process (main, libuv's pool), not of the engine process.
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const peak = process.resourceUsage().maxRSS * 1024;
  let size = deflated;
  if (name !== "deflate-floor" && name !== "rows-only") {
    ({ size } = await stat(file));
    await unlink(file);
  }
  process.stdout.write(
    `${JSON.stringify({
      name,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rowsPerSecond: ROWS / seconds,
      peakMb: peak / MB,
      beforeMb: before / MB,
      engineMb: enginePeak / MB,
      sizeMb: size / MB,
    })}\n`,
  );
}

/** Parent side: one contender run in a fresh child process. */
async function runPhase(name, sheetXml) {
  const loadBefore = load();
  const child = spawn(process.execPath, [...(NODE_FLAGS[name] ?? []), BENCH, "--phase", name, sheetXml], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ROWS: String(ROWS) },
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text) => {
    out += text;
  });
  const [code] = await once(child, "close");
  if (code !== 0) throw new Error(`contender ${name} exited with code ${code}: ${out}`);
  return { ...JSON.parse(out.trim().split("\n").pop()), load: `${loadBefore} -> ${load()}` };
}

const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function drive() {
  console.log(
    `rows=${ROWS} columns=${COLUMNS.length} node=${process.version} one fresh process per contender run, load average ${load()}`,
  );
  const sheetXml = join(tmpdir(), `report-bench-${process.pid}-sheet1.xml`);
  if (PHASES.includes("deflate-floor")) {
    // The floor's input: the sheet XML our XLSX contender writes, made here once and untimed.
    const { createOpenReportGenerator } = await import("../dist/index.js");
    const xlsx = join(tmpdir(), `report-bench-${process.pid}-floor-source.xlsx`);
    const definition = { title: "Orders", sheets: [{ name: "Orders", columns: COLUMNS, rows: rows() }] };
    await createOpenReportGenerator().generate(definition, createWriteStream(xlsx), { format: "xlsx" });
    await extractSheetXml(xlsx, sheetXml);
    await unlink(xlsx);
  }
  const rounds = [];
  const ONCE = new Set(["exceljs-raw", "exceljs-styled"]);
  const show = (label, r) => {
    console.log(
      `${label.padEnd(30)} ${r.seconds.toFixed(2).padStart(7)} s (cpu ${r.cpuSeconds.toFixed(2)} s)  ${Math.round(r.rowsPerSecond).toLocaleString("en-US").padStart(9)} rows/s  peak RSS ${r.peakMb.toFixed(0).padStart(4)} MB (before ${r.beforeMb.toFixed(0)} MB)${r.engineMb > 0 ? ` + engine process ${r.engineMb.toFixed(0)} MB` : ""}  ${r.name === "rows-only" ? "no output" : `${r.name === "deflate-floor" ? "deflated" : "file"} ${r.sizeMb.toFixed(1)} MB`}  load ${r.load}`,
    );
  };
  try {
    for (let round = 1; round <= ROUNDS; round += 1) {
      const byName = {};
      for (const name of PHASES.filter((phase) => !ONCE.has(phase))) {
        byName[name] = await runPhase(name, sheetXml);
        show(`${name} #${round}`, byName[name]);
      }
      rounds.push(byName);
    }
    for (const name of PHASES.filter((phase) => ONCE.has(phase))) {
      rounds[0] ??= {};
      rounds[0][name] = await runPhase(name, sheetXml);
      show(name, rounds[0][name]);
    }
  } finally {
    await unlink(sheetXml).catch(() => {});
  }
  const results = {};
  console.log(`summary over ${ROUNDS} interleaved rounds (median, min-max):`);
  for (const name of PHASES) {
    const runs = rounds.map((byName) => byName[name]).filter(Boolean);
    if (runs.length === 0) continue;
    const seconds = runs.map((r) => r.seconds);
    const peaks = runs.map((r) => r.peakMb);
    results[name] = {
      ...runs[0],
      seconds: median(seconds),
      rowsPerSecond: ROWS / median(seconds),
      peakMb: median(peaks),
      maxPeakMb: Math.max(...peaks),
    };
    console.log(
      `${name.padEnd(24)} ${median(seconds).toFixed(2).padStart(7)} s (${Math.min(...seconds).toFixed(2)}-${Math.max(...seconds).toFixed(2)})  peak RSS ${median(peaks).toFixed(0)} MB (${Math.min(...peaks).toFixed(0)}-${Math.max(...peaks).toFixed(0)})`,
    );
  }
  const paired = (label, a, b, of) => {
    const values = rounds
      .filter((byName) => byName[a] && byName[b])
      .map((byName) => of(byName[a], byName[b]));
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
    "openreport-xlsx-semi4 time / deflate-floor time",
    "openreport-xlsx-semi4",
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
  ratio(
    "openreport-csv / csv-plain throughput",
    "openreport-csv",
    "csv-plain",
    "rowsPerSecond",
    "goal >= 1.0",
  );
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
  for (const name of ["openreport-xlsx", "openreport-xlsx-semi4"]) {
    if (!results[name]) continue;
    // The goal holds only if every run stays under it, so the highest of the runs is what is judged.
    const { peakMb, maxPeakMb } = results[name];
    console.log(
      `${name} peak RSS ${maxPeakMb.toFixed(0)} MB (highest of ${ROUNDS} fresh processes; median ${peakMb.toFixed(0)} MB): ${maxPeakMb < RSS_GOAL_MB ? "under" : "OVER"} the ${RSS_GOAL_MB} MB goal`,
    );
  }
  console.log(`load average at the end ${load()} on ${availableParallelism()} cores`);
}

const phaseAt = process.argv.indexOf("--phase");
if (phaseAt === -1) await drive();
else await runContender(process.argv[phaseAt + 1], process.argv[phaseAt + 2]);
