// 20,000 inserts and 20,000 finds by id through the adapter and through the raw driver (the
// adapter's own MongoClient, so both share one pool), against the same server, in one process.
// Server: MONGODB_URL, else jongodb from the devDependency (an emulator: figures are its, not MongoDB's).
// jongodb's insert slows linearly with the size of the collection (about 60 ms per insert at 1,500
// documents), so against it the documents are spread over collections of BUCKET, the same for both.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { createMongoDocumentDatabase } from "../dist/index.js";

const COUNT = Number(process.env.BENCH_COUNT ?? 20_000);
const WARMUP = 500;

async function startJongodb() {
  let binary;
  try {
    const require = createRequire(import.meta.url);
    binary = join(
      dirname(require.resolve("@jongodb/memory-server-bin-linux-x64-gnu/package.json")),
      "bin",
      "jongodb",
    );
  } catch {
    return undefined;
  }
  const child = spawn(binary, ["--host=127.0.0.1", "--port=0"], { stdio: ["ignore", "pipe", "ignore"] });
  const url = await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`jongodb exited with ${code}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("JONGODB_URI="))
        resolve(line.slice("JONGODB_URI=".length).replace(/\/[^/?]*(\?.*)?$/, "/"));
    });
  });
  return { url, stop: () => child.kill("SIGTERM") };
}

const server = process.env.MONGODB_URL ? { url: process.env.MONGODB_URL, stop() {} } : await startJongodb();
if (!server) {
  console.error(
    "bench: no MongoDB server. Set MONGODB_URL (e.g. mongodb://127.0.0.1:27017/ from docker compose up mongodb).",
  );
  process.exit(2);
}
const kind = process.env.MONGODB_URL ? "MONGODB_URL" : "jongodb 0.1.6 (emulator)";
const BUCKET = process.env.MONGODB_URL ? COUNT : 200;

/**
 * Runs `driver` and `adapter` over the same slices of work, alternating which goes first, so that
 * drift in the server (a loaded machine, growing collections) falls on both alike.
 */
async function compare(label, slices, driver, adapter) {
  const totals = { driver: 0, adapter: 0 };
  for (let s = 0; s < slices; s++) {
    const order = s % 2 === 0 ? ["driver", "adapter"] : ["adapter", "driver"];
    for (const who of order) {
      const start = performance.now();
      await (who === "driver" ? driver(s) : adapter(s));
      totals[who] += performance.now() - start;
    }
  }
  for (const who of ["driver", "adapter"]) {
    const ms = totals[who];
    const ops = ((COUNT / ms) * 1000).toFixed(0);
    console.log(`${`${label} ${who}`.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms  ${ops.padStart(7)} ops/s`);
  }
  console.log(`ratio ${label} adapter/driver: ${(totals.adapter / totals.driver).toFixed(2)}`);
}

const database = await createMongoDocumentDatabase({
  url: server.url,
  database: `bench_${Date.now().toString(36)}`,
});
try {
  const buckets = Math.ceil(COUNT / BUCKET);
  const adapter = Array.from({ length: buckets }, (_, b) => database.collection(`via_adapter_${b}`));
  const raw = Array.from({ length: buckets }, (_, b) => database.db.collection(`via_driver_${b}`));
  const warmAdapter = database.collection("warm_adapter");
  const warmRaw = database.db.collection("warm_driver");
  const ids = Array.from({ length: COUNT }, (_, i) => `doc-${String(i).padStart(6, "0")}`);
  const at = (i) => Math.floor(i / BUCKET);
  const body = (i) => ({
    name: `user ${i}`,
    email: `user${i}@example.test`,
    age: i % 90,
    tags: ["a", "b"],
    at: new Date(i),
  });

  for (let i = 0; i < WARMUP; i++) {
    await warmAdapter.insertOne({ id: `warm-${i}`, ...body(i) });
    await warmRaw.insertOne({ _id: `warm-${i}`, ...body(i) });
    await warmAdapter.findById(`warm-${i}`);
    await warmRaw.findOne({ _id: `warm-${i}` });
  }

  console.log(`server: ${kind}; ${COUNT} operations each, sequential, ${BUCKET} documents per collection`);
  const slice = (b) => ids.map((_, i) => i).filter((i) => at(i) === b);
  const slices = Array.from({ length: buckets }, (_, b) => slice(b));
  await compare(
    "insert",
    buckets,
    async (b) => {
      for (const i of slices[b]) await raw[b].insertOne({ _id: ids[i], ...body(i) });
    },
    async (b) => {
      for (const i of slices[b]) await adapter[b].insertOne({ id: ids[i], ...body(i) });
    },
  );
  await compare(
    "findById",
    buckets,
    async (b) => {
      for (const i of slices[b]) if (!(await raw[b].findOne({ _id: ids[i] }))) throw new Error("missing");
    },
    async (b) => {
      for (const i of slices[b]) if (!(await adapter[b].findById(ids[i]))) throw new Error("missing");
    },
  );
} finally {
  // jongodb has no dropDatabase; its data goes with its process.
  if (process.env.MONGODB_URL) await database.db.dropDatabase().catch(() => undefined);
  await database.close();
  server.stop();
}
