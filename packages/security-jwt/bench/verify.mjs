// Verifications per second, one process: the decoder against raw jose (key imported once) and fast-jwt.
// Run with: pnpm --filter @proj/security-jwt bench   (builds nothing: run `pnpm build` first)
import { generateKeyPairSync, webcrypto } from "node:crypto";
import { createSigner, createVerifier } from "fast-jwt";
import { importSPKI, jwtVerify } from "jose";
import { createJwtTokenDecoder } from "../dist/index.js";

const SLICE_MS = Number(process.env.SLICE_MS ?? 50);
const SLICES = Number(process.env.SLICES ?? 41);
const ALGORITHMS = (process.env.ALGS ?? "HS256,RS256,ES256").split(",");

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
  const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" });
  return {
    sign: privatePem,
    verifyFast: publicPem,
    decoderKeys: { publicKeys: [publicPem] },
    importJose: () => importSPKI(publicPem, alg),
  };
}

/**
 * Sequential verifications for about SLICE_MS; returns [count, wall ms, CPU ms]. CPU time counts every
 * thread of the process (WebCrypto runs on libuv's pool), and is far steadier than wall time when other
 * processes compete for the cores.
 */
async function slice(verify, token) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + SLICE_MS;
  let count = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 16; i++) await verify(token);
    count += 16;
    now = performance.now();
  }
  const used = process.cpuUsage(cpu);
  return [count, now - start, (used.user + used.system) / 1000];
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (value) => Math.round(value).toLocaleString("en-US").padStart(9);

for (const alg of ALGORITHMS) {
  const keys = keysFor(alg);
  const token = createSigner({ key: keys.sign, algorithm: alg, expiresIn: 3_600_000 })(claims);
  const joseKey = await keys.importJose();
  const options = { algorithms: [alg], issuer: claims.iss, audience: claims.aud };
  const decoder = createJwtTokenDecoder({ ...keys.decoderKeys, ...options });
  const cachedDecoder = createJwtTokenDecoder({
    ...keys.decoderKeys,
    ...options,
    cache: { maxEntries: 10_000 },
  });
  const fastOptions = {
    key: keys.verifyFast,
    algorithms: [alg],
    allowedIss: claims.iss,
    allowedAud: claims.aud,
  };
  const fast = createVerifier(fastOptions);
  const fastCached = createVerifier({ ...fastOptions, cache: true });

  const contenders = {
    "jose jwtVerify": (t) => jwtVerify(t, joseKey, { ...options, requiredClaims: ["exp"] }),
    decoder: (t) => decoder.decode(t),
    "fast-jwt": (t) => fast(t),
    "decoder + cache": (t) => cachedDecoder.decode(t),
    "fast-jwt + cache": (t) => fastCached(t),
  };
  const names = Object.keys(contenders);
  const totals = Object.fromEntries(names.map((name) => [name, [0, 0, 0]]));
  const perRound = Object.fromEntries(names.map((name) => [name, []]));
  for (const verify of Object.values(contenders)) await slice(verify, token); // warm-up
  // Short interleaved slices in a rotating order, so load from other processes falls on every contender alike.
  for (let r = 0; r < SLICES; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      const [count, wall, cpu] = await slice(contenders[name], token);
      totals[name][0] += count;
      totals[name][1] += wall;
      totals[name][2] += cpu;
      perRound[name].push(count / cpu);
    }
  }
  const m = (name) => (totals[name][0] * 1000) / totals[name][2];
  const wall = (name) => (totals[name][0] * 1000) / totals[name][1];
  console.log(
    `\n${alg}: ${SLICES} rotating slices of ${SLICE_MS} ms; verifications per CPU-second (per wall-second)`,
  );
  for (const name of names) console.log(`  ${name.padEnd(18)} ${fmt(m(name))}  (${fmt(wall(name)).trim()})`);
  // Each ratio is the median over rounds of the two contenders' rates in that round: a burst of load
  // from elsewhere moves one round, not the result.
  const ratio = (a, b) => median(perRound[a].map((rate, round) => rate / perRound[b][round])).toFixed(2);
  console.log(`ratio ${alg} decoder / jose jwtVerify         ${ratio("decoder", "jose jwtVerify")}`);
  console.log(`ratio ${alg} decoder+cache / fast-jwt+cache  ${ratio("decoder + cache", "fast-jwt + cache")}`);
  console.log(`ratio ${alg} decoder / fast-jwt (no cache)    ${ratio("decoder", "fast-jwt")}`);
  await decoder.close();
  await cachedDecoder.close();
}
