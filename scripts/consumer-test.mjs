// Proves a service can install just what it needs: packs @proj/ports and @proj/adapter-memory,
// installs the tarballs with plain npm into a fresh project outside the workspace, uses them from
// both ESM and CommonJS, and type-checks code against their packed declarations (.d.ts and .d.cts).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const packages = ["@proj/ports", "@proj/adapter-memory"];
const work = mkdtempSync(join(tmpdir(), "proj-consumer-"));
const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });

try {
  const tarballs = join(work, "tarballs");
  for (const name of packages)
    run("pnpm", ["--filter", name, "pack", "--pack-destination", tarballs], process.cwd());
  const app = join(work, "app");
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true }),
  );
  const files = readdirSync(tarballs).map((file) => join(tarballs, file));
  run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", ...files, "@types/node@20"], app);

  const scenario = (load) => `
${load}
const repo = createMemoryTenantRepository();
const tenant = await repo.create({ slug: "consumer-co", name: "Consumer Co", plan: "starter" });
let code = "none";
try { await repo.getBySlug("missing-co"); } catch (error) { code = isInfrastructureError(error) ? error.code : "foreign"; }
await repo.close();
const query = renderSql(sql\`SELECT * FROM \${sql.id("t")} WHERE id = \${tenant.id}\`, postgresDialect);
console.log(JSON.stringify({ slug: tenant.slug, version: tenant.version, code, text: query.text }));
`;
  writeFileSync(
    join(app, "esm.mjs"),
    scenario(`import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { isInfrastructureError, postgresDialect, renderSql, sql } from "@proj/ports";`),
  );
  writeFileSync(
    join(app, "cjs.cjs"),
    `(async () => {${scenario(`const { createMemoryTenantRepository } = require("@proj/adapter-memory");
const { isInfrastructureError, postgresDialect, renderSql, sql } = require("@proj/ports");`)}})().catch((e) => { console.error(e); process.exit(1); });`,
  );

  const expected = JSON.stringify({
    slug: "consumer-co",
    version: 1,
    code: "NOT_FOUND",
    text: 'SELECT * FROM "t" WHERE id = $1',
  });
  for (const file of ["esm.mjs", "cjs.cjs"]) {
    const output = run("node", [file], app).trim();
    if (output !== expected) throw new Error(`${file} printed ${output}, expected ${expected}`);
    console.log(`consumer ${file}: ok`);
  }

  // Types, as a consumer's compiler sees them in each module system.
  const typed = `
const repo: TenantRepository = createMemoryTenantRepository();
const tenant: Promise<Tenant> = repo.create({ slug: "typed-co", name: "Typed", plan: "pro" });
const query: SqlQuery = sql\`SELECT \${1}\`;
export const checks = [tenant, query, isInfrastructureError(new Error("x"), "NOT_FOUND")];
`;
  writeFileSync(
    join(app, "typed.mts"),
    `import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { isInfrastructureError, type SqlQuery, sql, type Tenant, type TenantRepository } from "@proj/ports";${typed}`,
  );
  writeFileSync(
    join(app, "typed.cts"),
    `import { createMemoryTenantRepository } from "@proj/adapter-memory";
import { isInfrastructureError, type SqlQuery, sql, type Tenant, type TenantRepository } from "@proj/ports";${typed}`,
  );
  const tsc = join(process.cwd(), "node_modules", "typescript", "bin", "tsc");
  run(
    "node",
    [
      tsc,
      "--noEmit",
      "--strict",
      "--module",
      "node16",
      "--moduleResolution",
      "node16",
      "--target",
      "es2022",
      "--lib",
      "es2023,esnext.disposable",
      "--types",
      "node",
      "typed.mts",
      "typed.cts",
    ],
    app,
  );
  console.log("consumer typed.mts, typed.cts: ok");
  console.log("consumer test: 3 passed, 0 failed");
} finally {
  rmSync(work, { recursive: true, force: true });
}
