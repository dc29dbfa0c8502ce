import type { Page, Tenant } from "@proj/ports";

/**
 * Serialised pages of tenants, reused while a page lists the same tenants at the same versions.
 *
 * Writing the JSON of a page of 50 tenants is most of what `GET /tenants` costs once the page
 * itself comes from the cache. The `TenantRepository` contract makes every change of a tenant bump
 * its `version` (and `updatedAt`), and `id`, `slug` and `createdAt` never change: so the ids and
 * versions of a page's items, in order, and its cursor determine its JSON exactly. The page is
 * still read for every request (through the repository and its cache, so never stale); only its
 * serialisation is skipped when nothing in it changed.
 */
export class PageBodies {
  readonly #bodies = new Map<string, { fingerprint: string; body: Buffer }>();
  #bytes = 0;

  constructor(
    private readonly serialize: (page: Page<Tenant>) => string,
    /** Pages remembered, least recently written first out. */
    private readonly maxEntries = 256,
    /** And at most this many bytes of JSON in all. */
    private readonly maxBytes = 8_000_000,
  ) {}

  /**
   * The JSON of `page` as UTF-8, asked for as `key` (the normalised query). Kept as bytes, so an
   * unchanged page is not even encoded again on its way to the socket.
   */
  body(key: string, page: Page<Tenant>): Buffer {
    let fingerprint = page.nextCursor ?? "";
    for (const tenant of page.items) fingerprint += ` ${tenant.id}:${tenant.version}`;
    const known = this.#bodies.get(key);
    if (known !== undefined && known.fingerprint === fingerprint) return known.body;
    const body = Buffer.from(this.serialize(page));
    this.#forget(key);
    if (body.length > this.maxBytes) return body;
    for (const oldest of this.#bodies.keys()) {
      if (this.#bodies.size < this.maxEntries && this.#bytes + body.length <= this.maxBytes) break;
      this.#forget(oldest);
    }
    this.#bodies.set(key, { fingerprint, body });
    this.#bytes += body.length;
    return body;
  }

  #forget(key: string): void {
    const known = this.#bodies.get(key);
    if (known === undefined) return;
    this.#bodies.delete(key);
    this.#bytes -= known.body.length;
  }

  get size(): number {
    return this.#bodies.size;
  }

  /** Bytes of JSON held. */
  get bytes(): number {
    return this.#bytes;
  }
}
