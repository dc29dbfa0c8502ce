// Verifications per CPU-second in one process, interleaved: the decoder on its cache-miss path against
// fast-jwt without a cache and jose's jwtVerify, per algorithm; no cache and the cache-hit path alongside.
// Run with: pnpm --filter @proj/security-jwt build && pnpm --filter @proj/security-jwt bench
import { generateKeyPairSync, webcrypto } from "node:crypto";
import { loadavg } from "node:os";
import { createSigner, createVerifier } from "fast-jwt";
import { importSPKI, jwtVerify } from "jose";
import { createJwtTokenDecoder } from "../dist/index.js";

const SLICE_MS = Number(process.env.SLICE_MS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 41);
const ALGORITHMS = (process.env.ALGS ?? "HS256,RS256,ES256").split(",");
/** Distinct tokens walked in a cycle, four times what the miss-path decoder's cache holds. */
const TOKENS = Number(process.env.TOKENS ?? 1024);
const CACHE_ENTRIES = TOKENS / 4;
const GOAL = 0.8;

const claims = {
  sub: "user-42",
  tenant_id: "tenant-7",
  roles: ["admin", "reader"],
  scope: "orders:read orders:write",
  iss: "https://id.example",
  aud: "orders-api",
};

function keysFor(alg) {
  if (alg === "HS256") {
    const secret = "bench-shared-secret-that-is-at-least-32-bytes";
    return {
      sign: secret,
      verifyFast: secret,
      decoderKeys: { secret },
      importJose: () =>
        webcrypto.subtle.importKey("raw", Buffer.from(secret), { name: "HMAC", hash: "SHA-256" }, false, [
          "verify",
        ]),
    };
  }
  const pair =
    alg === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const publicPem = pair.publicKey.export({ type: "spki", format: "pem" });
  return {
    sign: pair.privateKey.export({ type: "pkcs8", format: "pem" }),
    verifyFast: publicPem,
    decoderKeys: { publicKeys: [publicPem] },
    importJose: () => importSPKI(publicPem, alg),
  };
}

/** A contender walks its own cycle over `tokens`; `verify` may return a value or a promise. */
function contender(verify, tokens) {
  let next = 0;
  return async () => {
    const token = tokens[next];
    next = next + 1 === tokens.length ? 0 : next + 1;
    await verify(token);
  };
}

/**
 * Sequential verifications for about SLICE_MS; returns [count, wall ms, CPU ms]. CPU time counts every
 * thread of the process (WebCrypto runs on libuv's pool) and stays meaningful when other processes
 * compete for the cores; wall time does not.
 */
async function slice(run) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + SLICE_MS;
  let count = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 16; i++) await run();
    count += 16;
    now = performance.now();
  }
  const used = process.cpuUsage(cpu);
  return [count, now - start, (used.user + used.system) / 1000];
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const thousands = (value) => Math.round(value).toLocaleString("en-US");
const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(" / ");

console.log(
  `node ${process.version}; ${ROUNDS} interleaved rounds of ${SLICE_MS} ms slices per contender; ` +
    `miss path: ${TOKENS} distinct tokens cycled through a cache of ${CACHE_ENTRIES}`,
);
console.log(`load average (1/5/15 min) at start: ${load()}`);

const ratioLines = [];
for (const alg of ALGORITHMS) {
  const keys = keysFor(alg);
  const sign = createSigner({ key: keys.sign, algorithm: alg, expiresIn: 3_600_000 });
  const tokens = Array.from({ length: TOKENS }, (_, index) => sign({ ...claims, jti: `t-${index}` }));
  const joseKey = await keys.importJose();
  const options = { algorithms: [alg], issuer: claims.iss, audience: claims.aud };
  const joseOptions = { ...options, requiredClaims: ["exp"] };
  const missDecoder = createJwtTokenDecoder({
    ...keys.decoderKeys,
    ...options,
    cache: { maxEntries: CACHE_ENTRIES },
  });
  const plainDecoder = createJwtTokenDecoder({ ...keys.decoderKeys, ...options });
  const hitDecoder = createJwtTokenDecoder({ ...keys.decoderKeys, ...options, cache: true });
  const fastOptions = {
    key: keys.verifyFast,
    algorithms: [alg],
    allowedIss: claims.iss,
    allowedAud: claims.aud,
  };
  const fast = createVerifier(fastOptions);
  const fastCached = createVerifier({ ...fastOptions, cache: true });
  const one = [tokens[0]];

  const contenders = {
    "decoder, cache miss": contender((t) => missDecoder.decode(t), tokens),
    "fast-jwt, no cache": contender((t) => fast(t), tokens),
    "decoder, no cache": contender((t) => plainDecoder.decode(t), tokens),
    "jose jwtVerify": contender((t) => jwtVerify(t, joseKey, joseOptions), tokens),
    "decoder, cache hit": contender((t) => hitDecoder.decode(t), one),
    "fast-jwt, cache hit": contender((t) => fastCached(t), one),
  };
  const names = Object.keys(contenders);
  const rates = Object.fromEntries(names.map((name) => [name, []]));
  const wallRates = Object.fromEntries(names.map((name) => [name, []]));
  for (const run of Object.values(contenders)) await slice(run); // warm-up (and key import)
  // Rotating order: a burst of load from other processes falls on every contender alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const [count, wall, cpu] = await slice(contenders[name]);
      rates[name].push((count * 1000) / cpu);
      wallRates[name].push((count * 1000) / wall);
    }
  }

  console.log(
    `\n${alg}: verifications per CPU-second, median [p10 – p90] over rounds (median per wall-second)`,
  );
  for (const name of names) {
    const r = rates[name];
    console.log(
      `  ${name.padEnd(20)} ${thousands(quantile(r, 0.5)).padStart(9)}  ` +
        `[${thousands(quantile(r, 0.1))} – ${thousands(quantile(r, 0.9))}]  (${thousands(quantile(wallRates[name], 0.5))})`,
    );
  }
  console.log(`  load average after ${alg}: ${load()}`);
  // A ratio is taken within each round, then the median over rounds: load moves a round, not the result.
  const ratio = (a, b, goal) => {
    const perRound = rates[a].map((rate, round) => rate / rates[b][round]);
    const median = quantile(perRound, 0.5);
    const verdict =
      goal === undefined ? "" : median >= goal ? `  goal ≥ ${goal}: met` : `  goal ≥ ${goal}: MISSED`;
    return `${median.toFixed(2)}  [p10 ${quantile(perRound, 0.1).toFixed(2)} – p90 ${quantile(perRound, 0.9).toFixed(2)}]${verdict}`;
  };
  ratioLines.push(
    `ratio ${alg} decoder miss / fast-jwt no cache      ${ratio("decoder, cache miss", "fast-jwt, no cache", GOAL)}`,
    `ratio ${alg} decoder no cache / fast-jwt no cache  ${ratio("decoder, no cache", "fast-jwt, no cache")}`,
    `ratio ${alg} decoder miss / jose jwtVerify         ${ratio("decoder, cache miss", "jose jwtVerify")}`,
    `ratio ${alg} decoder hit / fast-jwt hit            ${ratio("decoder, cache hit", "fast-jwt, cache hit")}`,
  );
  await missDecoder.close();
  await hitDecoder.close();
  await plainDecoder.close();
}

console.log(`\nload average (1/5/15 min) at end: ${load()}`);
for (const line of ratioLines) console.log(line);
