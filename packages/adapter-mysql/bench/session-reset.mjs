// What resetting a connection after each transaction costs: one connection, raw mysql2, the same
// small transaction followed by one prepared statement, with and without what the adapter runs on
// release (COM_RESET_CONNECTION, SET ROLE, SET time_zone), taking turns. The reset also drops the
// connection's prepared statements, so the statement after it is prepared again: that is counted.
//
//   node bench/session-reset.mjs            (MYSQL_URL, default mysql://root@127.0.0.1:3306)
import mysql from "mysql2";

const uri = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const rounds = Number(process.env.ROUNDS ?? 2_000);
const connection = mysql.createConnection({ uri });

const run = (text) =>
  new Promise((resolve, reject) => connection.query(text, (error) => (error ? reject(error) : resolve())));
const prepared = () =>
  new Promise((resolve, reject) =>
    connection.execute("SELECT ? AS n", [1], (error) => (error ? reject(error) : resolve())),
  );
const reset = () =>
  new Promise((resolve, reject) => connection.reset((error) => (error ? reject(error) : resolve())));

async function transaction() {
  await run("START TRANSACTION");
  await run("SELECT 1");
  await run("COMMIT");
  await prepared();
}

async function withReset() {
  await run("START TRANSACTION");
  await run("SELECT 1");
  await run("COMMIT");
  await reset();
  await run("SET ROLE NONE");
  await run("SET time_zone = '+00:00'");
  await prepared();
}

const timings = { plain: 0, reset: 0 };
for (let i = 0; i < 200; i += 1) await withReset();
for (let i = 0; i < rounds; i += 1) {
  let started = process.hrtime.bigint();
  await transaction();
  timings.plain += Number(process.hrtime.bigint() - started);
  started = process.hrtime.bigint();
  await withReset();
  timings.reset += Number(process.hrtime.bigint() - started);
}
connection.end();

const perPlain = timings.plain / rounds / 1e6;
const perReset = timings.reset / rounds / 1e6;
console.log(`${rounds} rounds (START, SELECT 1, COMMIT, then one prepared SELECT) on one connection`);
console.log(`without reset: ${perPlain.toFixed(3)} ms each`);
console.log(`with reset:    ${perReset.toFixed(3)} ms each (+${(perReset - perPlain).toFixed(3)} ms)`);
console.log(`ratio connection time with / without: ${(perReset / perPlain).toFixed(3)}`);
