// get-by-id throughput: the repository (plain and cached) against a raw `pg` query, one process,
// same pool size, same ids. Run: pnpm --filter @proj/repository-tenant-postgres bench
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { createMemoryCache } from "@proj/cache-memory";
import { sql } from "@proj/ports";
import pg from "pg";
import { createCachedTenantRepository, createSqlTenantRepository } from "../dist/index.js";

const URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const TENANTS = 1_000;
const LOOKUPS = Number(process.env.LOOKUPS ?? 20_000);
const IN_FLIGHT = 16;
const POOL = 8;
const schema = `bench_tenants_${Date.now().toString(36)}`;

const admin = createPostgresDatabase({ connectionString: URL, poolSize: 1 });
await admin.execute(sql`CREATE SCHEMA ${sql.id(schema)}`);
const db = createPostgresDatabase({ connectionString: URL, schema, poolSize: POOL });
const raw = new pg.Pool({ connectionString: URL, max: POOL, options: `-c search_path=${schema}` });

try {
  const repository = await createSqlTenantRepository(db);
  const ids = [];
  for (let i = 0; i < TENANTS; i++)
    ids.push((await repository.create({ slug: `bench-${i}`, name: `Tenant ${i}`, plan: "pro" })).id);
  let seed = 42;
  const pick = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return ids[seed % ids.length];
  };

  async function measure(label, lookup) {
    for (let i = 0; i < 500; i++) await lookup(pick());
    let next = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < LOOKUPS) await lookup(pick());
      }),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const rate = LOOKUPS / seconds;
    console.log(`${label.padEnd(34)} ${Math.round(rate).toLocaleString("en-US").padStart(10)} lookups/s`);
    return rate;
  }

  const rawRate = await measure("raw pg query", (id) =>
    raw.query(
      "SELECT id, slug, name, status, plan, settings, version, created_at, updated_at FROM tenants WHERE id = $1",
      [id],
    ),
  );
  const repoRate = await measure("repository (no cache)", (id) => repository.getById(id));
  const cached = createCachedTenantRepository(repository, createMemoryCache({ maxEntries: 10_000 }), {
    closeInner: false,
  });
  const cachedRate = await measure("repository + cache-memory", (id) => cached.getById(id));
  console.log(`ratio repository / raw pg: ${(repoRate / rawRate).toFixed(2)}`);
  console.log(`ratio cached repository / raw pg: ${(cachedRate / rawRate).toFixed(2)}`);
} finally {
  await raw.end();
  await db.close();
  await admin.execute(sql`DROP SCHEMA ${sql.id(schema)} CASCADE`);
  await admin.close();
}
