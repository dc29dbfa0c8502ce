// Atomic small-file writes and a 256 MiB object through the adapter, each against plain node:fs in
// the same process. Run after `pnpm build`: node bench/local-fs.mjs [files] [objectMiB]
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createLocalFileManager, createLocalObjectStorage } from "../dist/index.js";

const FILES = Number(process.argv[2] ?? 10_000);
const OBJECT_MIB = Number(process.argv[3] ?? 256);
const CONCURRENCY = 8;
const ROUNDS = 6;
const OBJECT_ROUNDS = 4;
const FOLDERS = 100;
const small = randomBytes(1024);

async function inParallel(count, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function timed(label, work) {
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { label, seconds };
}

/** Samples RSS every 20 ms while `work` runs; returns the peak in MiB. */
async function withPeakRss(work) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakMiB: peak / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}

async function* megabytes(count) {
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < count; i++) yield chunk;
}

async function drain(readable) {
  let bytes = 0;
  for await (const chunk of readable) bytes += chunk.byteLength;
  return bytes;
}

const base = await fs.mkdtemp(join(tmpdir(), "local-fs-bench-"));
try {
  // The large object first, so its peak RSS is not inflated by the small-file phase's heap.
  console.log(
    `# one ${OBJECT_MIB} MiB object, streamed in 1 MiB chunks, best of ${OBJECT_ROUNDS} alternating rounds`,
  );
  const bytes = OBJECT_MIB * 1024 * 1024;
  const rawFile = join(base, "raw.bin");
  const storage = createLocalObjectStorage({ root: join(base, "objects") });
  const runs = {
    // The same job done by hand: a new file, fsync, rename over the previous version.
    rawPut: () =>
      timed("raw put (write stream to a temp file + fsync + rename)", async () => {
        const temp = `${rawFile}.tmp`;
        await pipeline(megabytes(OBJECT_MIB), createWriteStream(temp, { flags: "wx" }));
        const handle = await fs.open(temp, "r+");
        await handle.sync();
        await handle.close();
        await fs.rename(temp, rawFile);
      }),
    put: () => timed("adapter put", () => storage.put("big/object.bin", megabytes(OBJECT_MIB))),
    rawGet: () => timed("raw get (read stream)", () => drain(createReadStream(rawFile))),
    get: () =>
      timed("adapter get", async () => {
        const { body } = await storage.get("big/object.bin");
        const received = await drain(body);
        if (received !== bytes) throw new Error(`read ${received} of ${bytes} bytes`);
      }),
  };
  const best = {};
  const order = [
    ["rawPut", "put", "rawGet", "get"],
    ["put", "rawPut", "get", "rawGet"],
  ];
  for (let round = 0; round < OBJECT_ROUNDS; round++) {
    // Whoever writes second in a round meets the first one's dirty pages, so the order alternates.
    for (const name of order[round % 2]) {
      const run = runs[name];
      const { result, peakMiB } = await withPeakRss(run);
      const previous = best[name];
      best[name] = {
        label: result.label,
        seconds: Math.min(previous?.seconds ?? Number.POSITIVE_INFINITY, result.seconds),
        peakMiB: Math.max(previous?.peakMiB ?? 0, peakMiB),
      };
    }
  }
  for (const run of Object.values(best)) {
    console.log(
      `${run.label}: ${(OBJECT_MIB / run.seconds).toFixed(0)} MiB/s, peak RSS ${run.peakMiB.toFixed(0)} MiB`,
    );
  }
  console.log(
    `ratio put adapter/raw (the adapter also writes and fsyncs the sidecar and the folder): ${(best.rawPut.seconds / best.put.seconds).toFixed(3)}`,
  );
  console.log(`ratio get adapter/raw: ${(best.rawGet.seconds / best.get.seconds).toFixed(3)}`);

  const folderOf = (i) => `f${String(i % FOLDERS).padStart(3, "0")}/file-${i}.bin`;
  const prepare = async (root) => {
    for (let f = 0; f < FOLDERS; f++)
      await fs.mkdir(join(root, `f${String(f).padStart(3, "0")}`), { recursive: true });
  };

  console.log(`\n# ${FILES} files of 1 KiB, ${CONCURRENCY} in flight, in ${ROUNDS} interleaved rounds`);
  const plainRoot = join(base, "plain");
  const durableRoot = join(base, "durable");
  await prepare(plainRoot);
  await prepare(durableRoot);
  const manager = createLocalFileManager({ root: join(base, "adapter") });
  const methods = [
    {
      label: "fs.promises.writeFile",
      write: (i) => fs.writeFile(join(plainRoot, folderOf(i)), small),
    },
    {
      label: "writeFile+fsync+rename+fsync(dir) by hand",
      write: async (i) => {
        const target = join(durableRoot, folderOf(i));
        const temp = `${target}.tmp-${i}`;
        const handle = await fs.open(temp, "wx");
        await handle.writeFile(small);
        await handle.sync();
        await handle.close();
        await fs.rename(temp, target);
        const folder = await fs.open(join(target, ".."), "r");
        await folder.sync();
        await folder.close();
      },
    },
    { label: "LocalFileManager.write (atomic)", write: (i) => manager.write(folderOf(i), small) },
  ];
  // Interleaved, so a burst of load from other processes hits every method alike.
  const seconds = methods.map(() => 0);
  const perRound = Math.ceil(FILES / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    const entries = [...methods.entries()];
    for (const [index, method] of round % 2 === 0 ? entries : entries.reverse()) {
      const offset = round * perRound;
      const run = await timed(method.label, () => inParallel(perRound, (i) => method.write(offset + i)));
      seconds[index] += run.seconds;
    }
  }
  for (const [index, method] of methods.entries()) {
    const total = seconds[index];
    console.log(
      `${method.label}: ${((perRound * ROUNDS) / total).toFixed(0)} files/s (${total.toFixed(2)} s)`,
    );
  }
  console.log(`ratio adapter/writeFile: ${(seconds[0] / seconds[2]).toFixed(3)}`);
  console.log(`ratio adapter/hand-written atomic write: ${(seconds[1] / seconds[2]).toFixed(3)}`);
  await fs.rm(join(base, "plain"), { recursive: true, force: true });
  await fs.rm(join(base, "durable"), { recursive: true, force: true });
  await fs.rm(join(base, "adapter"), { recursive: true, force: true });
  console.log(`peak RSS over the whole run: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  await fs.rm(base, { recursive: true, force: true });
}
