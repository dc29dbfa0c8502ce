import { randomUUID } from "node:crypto";
import {
  closedError,
  InfrastructureError,
  isInfrastructureError,
  isValidTenantSlug,
  type JsonValue,
  type ListTenantsOptions,
  type NewTenant,
  type OperationOptions,
  type Page,
  type SqlDatabase,
  type SqlExecutor,
  type SqlQuery,
  sql,
  TENANT_STATUSES,
  type Tenant,
  type TenantChanges,
  type TenantRepository,
  type TenantStatus,
} from "@proj/ports";
import { migrateTenantSchema } from "./migrations.js";

export interface SqlTenantRepositoryOptions {
  /** Apply the shipped migrations before returning (default true). */
  migrate?: boolean;
  /** Close the database when the repository closes (default false: the caller owns it). */
  closeDatabase?: boolean;
}

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  plan: string;
  settings: unknown;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const COLUMNS = sql.unsafe("id, slug, name, status, plan, settings, version, created_at, updated_at");

/** Row ↔ entity, in one place. JSON comes back parsed (jsonb) or as text (MySQL LONGTEXT). */
function toTenant(row: TenantRow): Tenant {
  const settings = typeof row.settings === "string" ? JSON.parse(row.settings) : row.settings;
  return {
    id: String(row.id),
    slug: row.slug,
    name: row.name,
    status: row.status,
    plan: row.plan,
    settings: settings as Record<string, JsonValue>,
    version: Number(row.version),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function requireText(value: unknown, field: string, max: number): string {
  if (typeof value !== "string" || value.trim().length === 0 || value.length > max) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `tenant ${field} must be a non-empty string of at most ${max} characters`,
    );
  }
  return value;
}

function encodeCursor(tenant: Tenant): string {
  return Buffer.from(JSON.stringify([tenant.createdAt.toISOString(), tenant.id])).toString("base64url");
}

function decodeCursor(cursor: string): [Date, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      typeof parsed[0] === "string" &&
      typeof parsed[1] === "string" &&
      UUID.test(parsed[1])
    ) {
      const at = new Date(parsed[0]);
      if (!Number.isNaN(at.getTime())) return [at, parsed[1]];
    }
  } catch {
    // falls through to the error below
  }
  throw new InfrastructureError("INVALID_ARGUMENT", "tenant list cursor is not valid");
}

/**
 * `TenantRepository` over the `SqlDatabase` port. Timestamps are made here with millisecond
 * precision, so keyset cursors round-trip exactly through JS `Date`.
 */
class SqlTenantRepository implements TenantRepository {
  #closed = false;

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: SqlTenantRepositoryOptions,
  ) {}

  /** The database this repository runs on (the escape hatch for what the port does not cover). */
  get database(): SqlDatabase {
    return this.db;
  }

  async create(input: NewTenant, options?: OperationOptions): Promise<Tenant> {
    this.#open();
    if (!isValidTenantSlug(input.slug)) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        "tenant slug must be 3-63 lower-case letters, digits and inner hyphens",
      );
    }
    const now = new Date();
    const tenant: Tenant = {
      id: randomUUID(),
      slug: input.slug,
      name: requireText(input.name, "name", 200),
      plan: requireText(input.plan, "plan", 50),
      status: "active",
      settings: structuredClone(input.settings ?? {}),
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.db.execute(
        sql`INSERT INTO tenants (${COLUMNS}) VALUES (${tenant.id}, ${tenant.slug}, ${tenant.name}, ${tenant.status}, ${tenant.plan}, ${this.#json(tenant.settings)}, 1, ${now}, ${now})`,
        options,
      );
    } catch (error) {
      if (isInfrastructureError(error, "CONFLICT")) {
        throw new InfrastructureError("CONFLICT", `tenant slug "${input.slug}" is already in use`, {
          cause: error,
          details: { slug: input.slug },
        });
      }
      throw error;
    }
    return tenant;
  }

  async getById(id: string, options?: OperationOptions): Promise<Tenant> {
    this.#open();
    const tenant = UUID.test(id) ? await this.#select(this.db, sql`id = ${id}`, options) : undefined;
    if (tenant === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with id "${id}"`);
    return tenant;
  }

  async getBySlug(slug: string, options?: OperationOptions): Promise<Tenant> {
    this.#open();
    // An invalid slug names no tenant; checking here also keeps collation quirks (case, trailing
    // spaces) from matching on one backend and not another.
    const tenant = isValidTenantSlug(slug)
      ? await this.#select(this.db, sql`slug = ${slug}`, options)
      : undefined;
    if (tenant === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with slug "${slug}"`);
    return tenant;
  }

  async list(options: ListTenantsOptions = {}): Promise<Page<Tenant>> {
    this.#open();
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `tenant list limit must be an integer from 1 to ${MAX_LIMIT}`,
      );
    }
    if (options.status !== undefined && !TENANT_STATUSES.includes(options.status)) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `tenant status must be one of ${TENANT_STATUSES.join(", ")}`,
      );
    }
    const conditions: SqlQuery[] = [];
    if (options.status !== undefined) conditions.push(sql`status = ${options.status}`);
    if (options.after !== undefined) {
      const [at, id] = decodeCursor(options.after);
      conditions.push(sql`(created_at > ${at} OR (created_at = ${at} AND id > ${id}))`);
    }
    const filter = conditions.length > 0 ? sql`WHERE ${sql.join(conditions, sql` AND `)}` : sql.empty;
    const rows = await this.db.query<TenantRow>(
      sql`SELECT ${COLUMNS} FROM tenants ${filter} ORDER BY created_at, id LIMIT ${limit + 1}`,
      options,
    );
    const items = rows.slice(0, limit).map(toTenant);
    const last = items.at(-1);
    return rows.length > limit && last ? { items, nextCursor: encodeCursor(last) } : { items };
  }

  async update(
    id: string,
    changes: TenantChanges,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    this.#open();
    const sets: SqlQuery[] = [];
    if (changes.name !== undefined) sets.push(sql`name = ${requireText(changes.name, "name", 200)}`);
    if (changes.plan !== undefined) sets.push(sql`plan = ${requireText(changes.plan, "plan", 50)}`);
    if (changes.settings !== undefined) sets.push(sql`settings = ${this.#json(changes.settings)}`);
    return this.#change(id, sets, expectedVersion, options);
  }

  async changeStatus(
    id: string,
    status: TenantStatus,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    this.#open();
    if (!TENANT_STATUSES.includes(status)) {
      throw new InfrastructureError(
        "INVALID_ARGUMENT",
        `tenant status must be one of ${TENANT_STATUSES.join(", ")}`,
      );
    }
    return this.#change(id, [sql`status = ${status}`], expectedVersion, options);
  }

  async delete(id: string, expectedVersion?: number, options?: OperationOptions): Promise<void> {
    this.#open();
    await this.db.transaction(async (tx) => {
      const versionCheck = expectedVersion === undefined ? sql.empty : sql` AND version = ${expectedVersion}`;
      const { affectedRows } = UUID.test(id)
        ? await tx.execute(sql`DELETE FROM tenants WHERE id = ${id}${versionCheck}`, options)
        : { affectedRows: 0 };
      if (affectedRows === 0) await this.#explainMiss(tx, id, expectedVersion ?? 0, options);
    }, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.options.closeDatabase) await this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Compare-and-set on `version`: the UPDATE matches only the expected version, so of concurrent
   * writers the row lock lets exactly one through; the others match no row and learn why.
   */
  async #change(
    id: string,
    sets: SqlQuery[],
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    return this.db.transaction(async (tx) => {
      // FOR UPDATE queues concurrent writers on the row, so each one reads the latest version.
      const current = UUID.test(id) ? await this.#select(tx, sql`id = ${id} FOR UPDATE`, options) : undefined;
      if (current === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with id "${id}"`);
      // Strictly later than the stored value, so updatedAt moves even within one millisecond.
      const updatedAt = new Date(Math.max(Date.now(), current.updatedAt.getTime() + 1));
      const { affectedRows } = await tx.execute(
        sql`UPDATE tenants SET ${sql.join([...sets, sql`version = version + 1`, sql`updated_at = ${updatedAt}`])}
            WHERE id = ${id} AND version = ${expectedVersion}`,
        options,
      );
      if (affectedRows === 0) await this.#explainMiss(tx, id, expectedVersion, options);
      const updated = await this.#select(tx, sql`id = ${id}`, options);
      if (updated === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with id "${id}"`);
      return updated;
    }, options);
  }

  async #explainMiss(
    tx: SqlExecutor,
    id: string,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<never> {
    const current = UUID.test(id) ? await this.#select(tx, sql`id = ${id}`, options) : undefined;
    if (current === undefined) throw new InfrastructureError("NOT_FOUND", `no tenant with id "${id}"`);
    throw new InfrastructureError(
      "CONFLICT",
      `tenant "${id}" is at version ${current.version}, not ${expectedVersion}`,
      {
        details: { currentVersion: current.version, expectedVersion },
      },
    );
  }

  async #select(
    executor: SqlExecutor,
    condition: SqlQuery,
    options?: OperationOptions,
  ): Promise<Tenant | undefined> {
    const row = await executor.queryOne<TenantRow>(
      sql`SELECT ${COLUMNS} FROM tenants WHERE ${condition}`,
      options,
    );
    return row === undefined ? undefined : toTenant(row);
  }

  #json(value: Record<string, JsonValue>): SqlQuery {
    const text = JSON.stringify(value);
    return this.db.dialect.name === "postgres" ? sql`${text}::jsonb` : sql`${text}`;
  }

  #open(): void {
    if (this.#closed) throw closedError("tenant repository");
  }
}

export type { SqlTenantRepository };

/**
 * A `TenantRepository` on any `SqlDatabase` (PostgreSQL, PGlite or MySQL/MariaDB). Applies the
 * shipped migrations first unless `migrate: false`.
 */
export async function createSqlTenantRepository(
  db: SqlDatabase,
  options: SqlTenantRepositoryOptions = {},
): Promise<SqlTenantRepository> {
  if (options.migrate ?? true) await migrateTenantSchema(db);
  return new SqlTenantRepository(db, options);
}
