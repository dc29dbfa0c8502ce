// The jobs contract's child process imports this (built package, by name) and SIGKILLs it.
import { createPostgresDatabase } from "@proj/adapter-postgres";
import { createPostgresJobQueue } from "@proj/queue-postgres";

export async function createJobQueue() {
  const db = createPostgresDatabase({
    connectionString: process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    poolSize: 4,
  });
  return createPostgresJobQueue(db, { schema: "queue_postgres_test", closeDatabase: true });
}
