import {
  InfrastructureError,
  type SqlDatabase,
  type SqlTransaction,
  type SqlTransactionOptions,
  sql,
} from "@proj/ports";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface RunAsTenantOptions extends SqlTransactionOptions {
  /**
   * A role without BYPASSRLS to switch to for the transaction (`SET LOCAL ROLE`). Needed when the
   * pool logs in as a superuser or the table owner, for whom policies do not apply.
   */
  role?: string;
}

/**
 * Runs `work` in a transaction in which PostgreSQL row-level-security policies see `tenantId`
 * (rejecting with `PERMISSION_DENIED` when the role in effect bypasses policies)
 * (`set_config('app.tenant_id', id, true)`). The setting is transaction-local: it ends with the
 * transaction, commit or rollback, so the next user of the pooled connection never inherits it.
 * PostgreSQL and PGlite only: MySQL has no row-level security (`NOT_SUPPORTED`).
 */
export async function runAsTenant<T>(
  db: SqlDatabase,
  tenantId: string,
  work: (tx: SqlTransaction) => Promise<T>,
  options: RunAsTenantOptions = {},
): Promise<T> {
  if (db.dialect.name !== "postgres") {
    throw new InfrastructureError("NOT_SUPPORTED", "row-level security needs PostgreSQL");
  }
  if (!UUID.test(tenantId)) throw new InfrastructureError("INVALID_ARGUMENT", "tenant id must be a UUID");
  const { role, ...transactionOptions } = options;
  return db.transaction(async (tx) => {
    if (role !== undefined) await tx.execute(sql`SET LOCAL ROLE ${sql.id(role)}`);
    // Policies never apply to superusers or BYPASSRLS roles: refuse rather than isolate nothing.
    const bypass = await tx.queryOne<{ bypass: boolean }>(
      sql`SELECT (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user`,
    );
    if (bypass?.bypass !== false) {
      throw new InfrastructureError(
        "PERMISSION_DENIED",
        "row-level security does not apply to the current database role (superuser or BYPASSRLS): pass `role`",
      );
    }
    await tx.execute(sql`SELECT set_config('app.tenant_id', ${tenantId}, true)`);
    return work(tx);
  }, transactionOptions);
}
