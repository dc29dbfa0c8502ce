import { type Span, SpanKind } from "@opentelemetry/api";
import type {
  ListTenantsOptions,
  NewTenant,
  OperationOptions,
  Page,
  Tenant,
  TenantChanges,
  TenantRepository,
  TenantStatus,
} from "@proj/ports";
import { ATTR } from "./attributes.js";
import { PORT_DURATION, portOperations } from "./generic.js";
import { type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

const METHODS = ["create", "getById", "getBySlug", "list", "update", "changeStatus", "delete"] as const;

type Method = (typeof METHODS)[number];

const listed = (span: Span, page: Page<Tenant>) => {
  if (Array.isArray(page?.items)) span.setAttribute(ATTR.items, page.items.length);
};

/**
 * Traces and measures every call of a `TenantRepository`: one `INTERNAL` span per call named
 * `TenantRepository.{method}` (the SQL of a repository over a decorated `SqlDatabase` nests under
 * it), `proj.items` for `list`, and `error.type` on failure (`NOT_FOUND`, `CONFLICT`…). Tenant
 * ids, slugs, names, plans and settings are never recorded.
 */
export function instrumentTenantRepository(
  repository: TenantRepository,
  options: InstrumentOptions = {},
): TenantRepository {
  const telemetry = new Telemetry(options, [PORT_DURATION]);
  return new InstrumentedTenantRepository(
    repository,
    telemetry,
    portOperations(telemetry, "TenantRepository", METHODS, SpanKind.INTERNAL),
  );
}

class InstrumentedTenantRepository implements TenantRepository {
  readonly #inner: TenantRepository;
  readonly #t: Telemetry;
  readonly #ops: Record<Method, Operation>;

  constructor(inner: TenantRepository, telemetry: Telemetry, operations: Record<Method, Operation>) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#ops = operations;
  }

  create(tenant: NewTenant, options?: OperationOptions): Promise<Tenant> {
    if (this.#t.passthrough()) return this.#inner.create(tenant, options);
    return this.#t.run(this.#ops.create, () => this.#inner.create(tenant, options));
  }

  getById(id: string, options?: OperationOptions): Promise<Tenant> {
    if (this.#t.passthrough()) return this.#inner.getById(id, options);
    return this.#t.run(this.#ops.getById, () => this.#inner.getById(id, options));
  }

  getBySlug(slug: string, options?: OperationOptions): Promise<Tenant> {
    if (this.#t.passthrough()) return this.#inner.getBySlug(slug, options);
    return this.#t.run(this.#ops.getBySlug, () => this.#inner.getBySlug(slug, options));
  }

  list(options?: ListTenantsOptions): Promise<Page<Tenant>> {
    if (this.#t.passthrough()) return this.#inner.list(options);
    return this.#t.run(this.#ops.list, () => this.#inner.list(options), listed);
  }

  update(
    id: string,
    changes: TenantChanges,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    if (this.#t.passthrough()) return this.#inner.update(id, changes, expectedVersion, options);
    return this.#t.run(this.#ops.update, () => this.#inner.update(id, changes, expectedVersion, options));
  }

  changeStatus(
    id: string,
    status: TenantStatus,
    expectedVersion: number,
    options?: OperationOptions,
  ): Promise<Tenant> {
    if (this.#t.passthrough()) return this.#inner.changeStatus(id, status, expectedVersion, options);
    return this.#t.run(this.#ops.changeStatus, () =>
      this.#inner.changeStatus(id, status, expectedVersion, options),
    );
  }

  delete(id: string, expectedVersion?: number, options?: OperationOptions): Promise<void> {
    if (this.#t.passthrough()) return this.#inner.delete(id, expectedVersion, options);
    return this.#t.run(this.#ops.delete, () => this.#inner.delete(id, expectedVersion, options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}
