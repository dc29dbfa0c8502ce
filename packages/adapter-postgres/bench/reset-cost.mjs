// Cost of resetting session state after a transaction: plain COMMIT, COMMIT + reset in the same
// round trip (what the adapter does), and COMMIT then a separate DISCARD ALL. Raw pg, one process,
// interleaved rounds.   node bench/reset-cost.mjs
import pg from "pg";

const URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const POOL_SIZE = 8;
const OPS = Number(process.env.RESET_COST_OPS ?? 5_000);
const ROUNDS = 5;
const pool = new pg.Pool({ connectionString: URL, max: POOL_SIZE });

async function measure(commit, after) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: POOL_SIZE }, async () => {
      const client = await pool.connect();
      try {
        while (next++ < OPS) {
          await client.query("BEGIN");
          await client.query("SELECT 1");
          await client.query(commit);
          if (after !== undefined) await client.query(after);
        }
      } finally {
        client.release();
      }
    }),
  );
  return OPS / (Number(process.hrtime.bigint() - started) / 1e9);
}

const best = { plain: 0, reset: 0, discard: 0 };
for (let round = 0; round < ROUNDS; round += 1) {
  best.plain = Math.max(best.plain, await measure("COMMIT"));
  best.reset = Math.max(
    best.reset,
    await measure("COMMIT; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; RESET ROLE"),
  );
  best.discard = Math.max(best.discard, await measure("COMMIT", "DISCARD ALL"));
}
console.log(`transactions (BEGIN, SELECT 1, COMMIT), pool ${POOL_SIZE}, ${OPS} per round, best of ${ROUNDS}`);
console.log(
  `plain COMMIT ${Math.round(best.plain)} tx/s, COMMIT + reset in one round trip ${Math.round(best.reset)} tx/s, ` +
    `COMMIT then DISCARD ALL ${Math.round(best.discard)} tx/s`,
);
console.log(`ratio reset/plain tx/s = ${(best.reset / best.plain).toFixed(3)}`);
console.log(`ratio discard-all/plain tx/s = ${(best.discard / best.plain).toFixed(3)}`);
await pool.end();
