// Put and get of a 256 MiB object through the adapter and through the raw SDK (lib-storage
// `Upload`, `GetObjectCommand`), in this one process, against the same local S3 server.
//
// The server (s3rver) runs in a child process so that its own buffers do not count in this
// process's peak RSS, which is what the adapter must keep bounded.
//
//   pnpm --filter @proj/adapter-r2 build && pnpm --filter @proj/adapter-r2 bench
//   BENCH_MIB=64 ROUNDS=1 PART_MIB=8 QUEUE_SIZE=4 node --expose-gc bench/put-get.mjs

import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const MIB = 1024 * 1024;
const OBJECT_MIB = Number(process.env.BENCH_MIB ?? 256);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
// The adapter's defaults; PART_MIB and QUEUE_SIZE try others (for both contenders).
const PART_SIZE = Number(process.env.PART_MIB ?? 5) * MIB;
const QUEUE_SIZE = Number(process.env.QUEUE_SIZE ?? 2);
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** The object, generated on the fly in 1 MiB chunks: never held whole in memory. */
function generatedBody(mebibytes = OBJECT_MIB) {
  const chunk = Buffer.alloc(MIB, 0x5a);
  let sent = 0;
  return new Readable({
    read() {
      if (sent === mebibytes) return this.push(null);
      sent += 1;
      this.push(chunk);
    },
  });
}

const WARM_UP_MIB = 9;

async function drain(body, mebibytes) {
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.byteLength;
  if (bytes !== mebibytes * MIB) throw new Error(`read ${bytes} bytes, expected ${mebibytes * MIB}`);
}

const sizeOf = (options) => (options?.small ? WARM_UP_MIB : OBJECT_MIB);

/** Runs `work`, sampling RSS every 5 ms; returns MB/s and the peak RSS in MiB during the run. */
async function measure(work) {
  globalThis.gc?.();
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await work();
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  return {
    mbPerSecond: (OBJECT_MIB * MIB) / 1e6 / seconds,
    // This process's CPU time: what the client side costs, far less disturbed by other load than wall time.
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakMiB: peak / MIB,
    growthMiB: (peak - before) / MIB,
  };
}

async function main() {
  const server = fork(fileURLToPath(import.meta.url), ["--serve"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { port } = await new Promise((resolve) => server.once("message", resolve));
  const endpoint = `http://127.0.0.1:${port}`;

  const { S3Client, CreateBucketCommand, GetObjectCommand } = await import("@aws-sdk/client-s3");
  const { Upload } = await import("@aws-sdk/lib-storage");
  const { createS3CompatibleObjectStorage } = await import("../dist/index.js");

  const bucket = `bench-${Date.now().toString(36)}`;
  const raw = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: CREDENTIALS });
  await raw.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = createS3CompatibleObjectStorage({
    endpoint,
    bucket,
    forcePathStyle: true,
    credentials: CREDENTIALS,
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
  });

  const contenders = {
    "raw SDK": {
      put: async (key, options) => {
        const upload = new Upload({
          client: raw,
          params: {
            Bucket: bucket,
            Key: key,
            Body: generatedBody(sizeOf(options)),
            ContentType: "application/octet-stream",
          },
          partSize: PART_SIZE,
          queueSize: QUEUE_SIZE,
          leavePartsOnError: false,
        });
        await upload.done();
      },
      get: async (key, options) => {
        const { Body } = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        await drain(Body, sizeOf(options));
      },
    },
    adapter: {
      put: (key, options) => store.put(key, generatedBody(sizeOf(options))),
      get: async (key, options) => drain((await store.get(key)).body, sizeOf(options)),
    },
  };

  // Warm up connections and JIT for both, unmeasured, with a small object.
  for (const contender of Object.values(contenders)) {
    await contender.put("bench/warm-up", { small: true });
    await contender.get("bench/warm-up", { small: true });
  }
  globalThis.gc?.();
  console.log(
    `baseline RSS after loading the SDK and warming up: ${(process.memoryUsage.rss() / MIB).toFixed(0)} MiB`,
  );
  console.log(
    `${OBJECT_MIB} MiB object, part size ${PART_SIZE / MIB} MiB, queue size ${QUEUE_SIZE}, ${ROUNDS} round(s), median of rounds (throughput), worst of rounds (RSS)`,
  );
  const runs = {};
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first, so neither always inherits the other's heap or a quieter moment.
    const order = Object.entries(contenders);
    if (round % 2 === 1) order.reverse();
    for (const [name, contender] of order) {
      for (const operation of ["put", "get"]) {
        const id = `${operation} ${name}`;
        const result = await measure(() => contender[operation](`bench/${name.replace(" ", "-")}`));
        runs[id] = [...(runs[id] ?? []), result];
      }
    }
  }
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const summary = {};
  for (const [id, results] of Object.entries(runs)) {
    const speeds = results.map((result) => result.mbPerSecond);
    summary[id] = {
      mbPerSecond: median(speeds),
      cpuSeconds: median(results.map((result) => result.cpuSeconds)),
      peakMiB: Math.max(...results.map((result) => result.peakMiB)),
      growthMiB: Math.max(...results.map((result) => result.growthMiB)),
    };
    console.log(
      `${id.padEnd(12)} median ${summary[id].mbPerSecond.toFixed(1).padStart(6)} MB/s (rounds: ${speeds
        .map((speed) => speed.toFixed(0))
        .join(
          ", ",
        )})   client CPU ${summary[id].cpuSeconds.toFixed(2)} s   peak RSS ${summary[id].peakMiB.toFixed(0)} MiB (+${summary[id].growthMiB.toFixed(0)} MiB during the run)`,
    );
  }
  for (const operation of ["put", "get"]) {
    const ratio = summary[`${operation} adapter`].mbPerSecond / summary[`${operation} raw SDK`].mbPerSecond;
    console.log(`ratio ${operation} adapter/raw SDK median throughput: ${ratio.toFixed(2)} (target >= 0.95)`);
    const cpuRatio = summary[`${operation} raw SDK`].cpuSeconds / summary[`${operation} adapter`].cpuSeconds;
    console.log(
      `ratio ${operation} raw SDK/adapter median client CPU: ${cpuRatio.toFixed(2)} (1 = same cost)`,
    );
  }
  const adapterPeak = Math.max(summary["put adapter"].peakMiB, summary["get adapter"].peakMiB);
  console.log(`adapter peak RSS: ${adapterPeak.toFixed(0)} MiB (target < 128 MiB)`);

  await store.deleteMany(["bench/raw-SDK", "bench/adapter", "bench/warm-up"]);
  await store.close();
  raw.destroy();
  server.disconnect();
}

if (process.argv[2] === "--serve") {
  const { default: S3rver } = await import("s3rver");
  const directory = mkdtempSync(join(tmpdir(), "adapter-r2-bench-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
  const { port } = await server.run();
  process.send({ port });
  process.on("disconnect", () => {
    rmSync(directory, { recursive: true, force: true });
    process.exit(0);
  });
} else {
  await main();
}
