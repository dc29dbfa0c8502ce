// Every package as a user gets it: starts a private npm registry (Verdaccio) on loopback, publishes
// the workspace to it with the real release command (`changeset publish`, pointed at that registry),
// then, for each package, a scratch project outside the workspace installs it with plain npm
// together with only its peers, loads it from ESM and (where offered) CommonJS, type-checks its
// README example against the published declarations (node16 and bundler resolution) and runs that
// example against the real service it needs. The example is read from the README, so docs cannot
// drift. `@proj/contract-tests` is proven by certifying a third party's adapter with it, in the
// scratch project's own vitest, and by watching it fail a broken one.
//
// Needs Node 22+ (Verdaccio's floor), PostgreSQL, MariaDB, Redis, RabbitMQ and NATS with JetStream on
// 127.0.0.1 (as `pnpm test`).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const repo = process.cwd();
const work = mkdtempSync(join(tmpdir(), "proj-registry-"));
const runId = randomBytes(4).toString("hex");
const children = [];
const results = [];
let passed = 0;
let failed = 0;

const ESCAPE = String.fromCharCode(27);
const plain = (text) => String(text ?? "").replaceAll(new RegExp(`${ESCAPE}\\[[0-9;]*m`, "g"), "");
const only = process.env.REGISTRY_TEST_ONLY?.split(",");
const run = (command, args, options = {}) =>
  execFileSync(command, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });

async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Spawns a long-running helper process and resolves once `ready(line)` matches a line it prints. */
async function startProcess(name, command, args, ready, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  children.push(child);
  const lines = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in 60 s:\n${lines.join("\n")}`)),
      60_000,
    );
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}:\n${lines.join("\n")}`)));
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on("line", (line) => {
        lines.push(line);
        const value = ready(line);
        if (value !== undefined) {
          clearTimeout(timer);
          resolve({ child, value });
        }
      });
  });
}

async function startRegistry() {
  const port = await freePort();
  const root = join(work, "registry");
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, "config.yaml"),
    `storage: ${join(root, "storage")}
auth:
  htpasswd:
    file: ${join(root, "htpasswd")}
    max_users: 1
uplinks: {}
packages:
  "@proj/*":
    access: $all
    publish: $authenticated
log: { type: stdout, format: pretty, level: warn }
`,
  );
  const bin = join(repo, "node_modules", "verdaccio", "bin", "verdaccio");
  await startProcess(
    "verdaccio",
    process.execPath,
    [bin, "--config", join(root, "config.yaml"), "--listen", `127.0.0.1:${port}`],
    (line) => (line.includes("http address") ? true : undefined),
  );
  const url = `http://127.0.0.1:${port}/`;
  const answer = await fetch(`${url}-/user/org.couchdb.user:release`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "release", password: randomBytes(12).toString("hex") }),
  });
  const { token } = await answer.json();
  if (!token) throw new Error(`verdaccio gave no token (${answer.status})`);
  return { url, port, token, storage: join(root, "storage") };
}

/** The services the README examples talk to, each made for this run only. */
async function startServices() {
  const database = `registry_${runId}`;
  run("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", `CREATE DATABASE ${database}`]);
  run("mariadb", ["-h", "127.0.0.1", "-u", "root", "-e", `CREATE DATABASE ${database}`]);

  const s3Port = await freePort();
  const s3Dir = join(work, "s3");
  const bucket = `registry-${runId}`;
  await startProcess(
    "s3rver",
    process.execPath,
    [
      "--openssl-legacy-provider",
      join(repo, "packages", "adapter-r2", "node_modules", "s3rver", "bin", "s3rver.js"),
      "-d",
      s3Dir,
      "-a",
      "127.0.0.1",
      "-p",
      String(s3Port),
      "--configure-bucket",
      bucket,
    ],
    (line) => (line.includes("listening") ? true : undefined),
  );

  const jongodb = join(
    repo,
    "packages",
    "adapter-mongodb",
    "node_modules",
    "@jongodb",
    "memory-server-bin-linux-x64-gnu",
    "bin",
    "jongodb",
  );
  const { value: mongoUrl } = await startProcess(
    "jongodb",
    jongodb,
    ["--host=127.0.0.1", "--port=0"],
    (line) =>
      line.startsWith("JONGODB_URI=")
        ? line.slice("JONGODB_URI=".length).replace(/\/[^/?]*(\?.*)?$/, "/")
        : undefined,
  );

  return {
    env: {
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
      MYSQL_URL: `mysql://root@127.0.0.1:3306/${database}`,
      REDIS_URL: "redis://127.0.0.1:6379",
      CACHE_NAMESPACE: `registry_${runId}`,
      RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:5672",
      MONGODB_URL: mongoUrl,
      S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      NATS_SERVERS: "127.0.0.1:4222",
      // Job-queue examples: streams and subjects of this run only (the example deletes its queue).
      JOBS_NAMESPACE: `registry-${runId}`,
    },
    cleanup() {
      run("psql", [
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-qc",
        `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`,
      ]);
      run("mariadb", ["-h", "127.0.0.1", "-u", "root", "-e", `DROP DATABASE IF EXISTS ${database}`]);
      // The cache example's keys, and the queue-redis example's (`<JOBS_NAMESPACE>:<queue>:…`).
      const keys = [`registry_${runId}*`, `registry-${runId}:*`].flatMap((pattern) =>
        run("redis-cli", ["-h", "127.0.0.1", "--scan", "--pattern", pattern]).split("\n").filter(Boolean),
      );
      if (keys.length > 0) run("redis-cli", ["-h", "127.0.0.1", "DEL", ...keys]);
      // The queue-rabbitmq example's queues: its jobs, dead letters and the 19 wait queues.
      const amqplib = join(repo, "packages", "queue-rabbitmq", "node_modules", "amqplib", "channel_api.js");
      if (existsSync(amqplib))
        run(process.execPath, [
          "-e",
          `const amqp = require(${JSON.stringify(amqplib)});
           (async () => {
             const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
             const channel = await connection.createChannel();
             for (const name of process.argv.slice(1)) await channel.deleteQueue(name);
             await connection.close();
           })().catch((error) => { console.error(error.message); process.exitCode = 1; });`,
          `registry-${runId}.reports`,
          `registry-${runId}.reports.dead`,
          ...Array.from({ length: 19 }, (_, i) => `registry-${runId}.reports.wait.${2 ** (6 + i)}`),
        ]);
    },
  };
}

/** The first ```ts block of a README: the example a user copies first. */
function readmeExample(dir) {
  const readme = readFileSync(join(dir, "README.md"), "utf8");
  const match = /```ts\n([\s\S]*?)```/.exec(readme);
  if (!match) throw new Error(`${dir}/README.md has no ts example`);
  return match[1];
}

/** `@proj/...` packages an example imports besides the one under test. */
function examplePeers(example, name) {
  return [...example.matchAll(/from "(@proj\/[a-z0-9-]+)"/g)]
    .map((m) => m[1])
    .filter((peer) => peer !== name);
}

function check(name, action) {
  try {
    action();
    passed += 1;
    console.log(`ok: ${name}`);
  } catch (error) {
    failed += 1;
    const output = [error.stdout, error.stderr].filter(Boolean).join("\n").slice(-4_000);
    console.error(`FAILED: ${name}: ${error.message.split("\n")[0]}\n${output}`);
  }
}

function scratchProject(name, registry, extra = {}) {
  const app = join(work, "apps", name.replace("@proj/", ""));
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, ".npmrc"), `@proj:registry=${registry.url}\n`);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify(
      { name: `scratch-${name.replace("@proj/", "")}`, private: true, type: "module", ...extra },
      null,
      2,
    ),
  );
  return app;
}

const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
const typeCheck = (app, resolution) =>
  run(
    process.execPath,
    [
      tsc,
      "--noEmit",
      "--strict",
      "--skipLibCheck",
      "--target",
      "es2022",
      "--lib",
      "es2023,esnext.disposable",
      "--types",
      "node",
      ...(resolution === "bundler"
        ? ["--module", "preserve", "--moduleResolution", "bundler"]
        : ["--module", "node16", "--moduleResolution", "node16"]),
      "example.mts",
    ],
    { cwd: app },
  );

function provePackage(manifest, registry, services) {
  const { name } = manifest;
  const dir = join(repo, "packages", manifest.dir);
  const example = readmeExample(dir);
  const app = scratchProject(name, registry);
  const installs = [name, ...examplePeers(example, name)];
  const started = performance.now();
  check(
    `${name}: installs alone with npm (with ${installs.slice(1).join(", ") || "no other @proj package"})`,
    () => run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", ...installs], { cwd: app }),
  );
  const installMs = Math.round(performance.now() - started);
  const installed = JSON.parse(
    readFileSync(join(app, "node_modules", ...name.split("/"), "package.json"), "utf8"),
  );
  for (const peer of Object.keys(installed.peerDependencies ?? {}))
    check(`${name}: its peer ${peer} is installed`, () => {
      if (!existsSync(join(app, "node_modules", ...peer.split("/"), "package.json")))
        throw new Error(`${peer} missing`);
    });
  check(`${name}: ships its LICENSE`, () => {
    if (!existsSync(join(app, "node_modules", ...name.split("/"), "LICENSE")))
      throw new Error("no LICENSE in the tarball");
  });

  let esmNames = "";
  check(`${name}: loads from ESM`, () => {
    esmNames = run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(name)}); console.log(Object.keys(m).sort().join(","));`,
      ],
      { cwd: app },
    ).trim();
    if (esmNames === "") throw new Error("no exports");
  });
  if (installed.exports?.["."]?.require)
    check(`${name}: loads from CommonJS with the same exports`, () => {
      const cjsNames = run(
        process.execPath,
        ["-e", `console.log(Object.keys(require(${JSON.stringify(name)})).sort().join(","))`],
        { cwd: app },
      ).trim();
      if (cjsNames !== esmNames) throw new Error(`CommonJS exports ${cjsNames}, ESM ${esmNames}`);
    });

  writeFileSync(join(app, "example.mts"), example);
  for (const resolution of ["node16", "bundler"])
    check(`${name}: README example type-checks (${resolution})`, () => typeCheck(app, resolution));
  check(`${name}: README example runs`, () => {
    run(
      process.execPath,
      [
        tsc,
        "--target",
        "es2022",
        "--lib",
        "es2023,esnext.disposable",
        "--types",
        "node",
        "--module",
        "node16",
        "--moduleResolution",
        "node16",
        "--skipLibCheck",
        "--noCheck",
        "example.mts",
      ],
      { cwd: app },
    );
    const data = join(app, "data");
    mkdirSync(data, { recursive: true });
    run(process.execPath, ["example.mjs"], {
      cwd: app,
      env: { ...process.env, ...services.env, DATA_DIR: data },
      timeout: 120_000,
    });
  });
  results.push({ name, installMs });
}

/** The contract kit, as a third party uses it: certify an adapter of their own, from the tarball. */
function proveContractKit(registry) {
  const name = "@proj/contract-tests";
  const app = scratchProject(name, registry, { scripts: { test: "vitest run" } });
  const started = performance.now();
  check(`${name}: installs with its peers and vitest`, () =>
    run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        name,
        "@proj/ports",
        "@proj/adapter-memory",
        "vitest@^4.1.0",
        "vite@^7.3.0",
      ],
      { cwd: app },
    ),
  );
  const installMs = Math.round(performance.now() - started);
  // The third party's adapter forwards to the memory reference: what is certified here is the kit
  // as installed from its tarball, and a broken variant shows the suite is not a rubber stamp.
  mkdirSync(join(app, "src"), { recursive: true });
  mkdirSync(join(app, "test"), { recursive: true });
  writeFileSync(
    join(app, "src", "index.ts"),
    `import { createMemoryObjectStorage } from "@proj/adapter-memory";
import type { ObjectStorage } from "@proj/ports";

/** A third party's adapter: forwards to the memory reference, and may break on purpose. */
export function createMyObjectStorage(options: { bucket: string }): ObjectStorage {
  const inner = createMemoryObjectStorage();
  if (process.env.BREAK_ADAPTER !== "1" || options.bucket === "") return inner;
  return new Proxy(inner, {
    get(target, property) {
      if (property === "exists") return async () => true; // claims every key exists
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
`,
  );
  writeFileSync(
    join(app, "test", "contract.test.ts"),
    readmeExample(join(repo, "packages", "contract-tests")),
  );
  check(`${name}: certifies a third party's adapter in the project's own vitest`, () => {
    const output = plain(
      run("npx", ["vitest", "run"], { cwd: app, env: { ...process.env, CI: "true", NO_COLOR: "1" } }),
    );
    if (!/Tests\s+\d+ passed/.test(output))
      throw new Error(`no passing tests reported:\n${output.slice(-2_000)}`);
  });
  check(`${name}: fails a deliberately broken adapter`, () => {
    try {
      run("npx", ["vitest", "run"], {
        cwd: app,
        env: { ...process.env, CI: "true", NO_COLOR: "1", BREAK_ADAPTER: "1" },
      });
    } catch (error) {
      if (/Tests\s+\d+ failed/.test(plain(error.stdout))) return;
      throw error;
    }
    throw new Error("the suite passed an adapter whose exists() always answers true");
  });
  results.push({ name, installMs });
}

let services;
try {
  if (Number(process.versions.node.split(".")[0]) < 22)
    throw new Error(`needs Node 22+ (running ${process.version})`);
  const registry = await startRegistry();
  const npmrc = join(work, "publish.npmrc");
  writeFileSync(
    npmrc,
    `registry=${registry.url}\n//127.0.0.1:${registry.port}/:_authToken=${registry.token}\n`,
  );
  const publishEnv = { ...process.env, NPM_CONFIG_USERCONFIG: npmrc, npm_config_registry: registry.url };
  const published = run(
    process.execPath,
    [join(repo, "node_modules", "@changesets", "cli", "bin.js"), "publish", "--no-git-tag"],
    {
      cwd: repo,
      env: publishEnv,
    },
  );
  // packages/ holds the published packages only (scripts/check-dependencies.mjs keeps private ones
  // out); tools/ holds private workspace support that must never reach a registry.
  const manifests = readdirSync(join(repo, "packages")).map((dir) => ({
    dir,
    ...JSON.parse(readFileSync(join(repo, "packages", dir, "package.json"), "utf8")),
  }));
  for (const manifest of manifests)
    check(`${manifest.name}: published by changeset publish`, () => {
      if (
        !existsSync(
          join(
            registry.storage,
            ...manifest.name.split("/"),
            `${manifest.name.split("/")[1]}-${manifest.version}.tgz`,
          ),
        )
      )
        throw new Error(`not in the registry; changeset publish said:\n${published}`);
    });
  for (const dir of readdirSync(join(repo, "tools"))) {
    const { name } = JSON.parse(readFileSync(join(repo, "tools", dir, "package.json"), "utf8"));
    check(`${name}: a tool, not published by changeset publish`, () => {
      if (existsSync(join(registry.storage, ...name.split("/"))))
        throw new Error(`in the registry; changeset publish said:\n${published}`);
    });
  }

  // Type-checking needs @types/node next to the scratch projects, as any TypeScript project has it.
  cpSync(join(repo, "node_modules", "@types", "node"), join(work, "apps", "node_modules", "@types", "node"), {
    recursive: true,
    dereference: true,
  });
  services = await startServices();
  for (const manifest of manifests) {
    if (only && !only.includes(manifest.name)) continue;
    if (manifest.name === "@proj/contract-tests") proveContractKit(registry);
    else provePackage(manifest, registry, services);
  }

  console.log("\npackage | tarball | install from the local registry");
  console.log("--- | --- | ---");
  for (const { name, installMs } of results) {
    const file = join(registry.storage, ...name.split("/"));
    const tarball = readdirSync(file).find((entry) => entry.endsWith(".tgz"));
    const size = tarball ? statSync(join(file, tarball)).size : 0;
    console.log(`${name} | ${(size / 1024).toFixed(1)} KiB | ${(installMs / 1000).toFixed(1)} s`);
  }
} catch (error) {
  failed += 1;
  console.error(`FAILED: registry test setup: ${error.stack ?? error}\n${error.stderr ?? ""}`);
} finally {
  try {
    services?.cleanup();
  } catch (error) {
    console.error(`cleanup: ${error.message}`);
  }
  for (const child of children) child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
  console.log(`registry test: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}
