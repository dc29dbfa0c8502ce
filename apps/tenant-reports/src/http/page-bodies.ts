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
  readonly #bodies = new Map<string, { fingerprint: string; body: string }>();
  #chars = 0;

  constructor(
    private readonly serialize: (page: Page<Tenant>) => string,
    /** Pages remembered, least recently written first out. */
    private readonly maxEntries = 256,
    /** And at most this many characters of JSON in all (about 8 MB of UTF-16 by default). */
    private readonly maxChars = 4_000_000,
  ) {}

  /** The JSON of `page`, asked for as `key` (the normalised query). */
  body(key: string, page: Page<Tenant>): string {
    let fingerprint = page.nextCursor ?? "";
    for (const tenant of page.items) fingerprint += ` ${tenant.id}:${tenant.version}`;
    const known = this.#bodies.get(key);
    if (known !== undefined && known.fingerprint === fingerprint) return known.body;
    const body = this.serialize(page);
    this.#forget(key);
    if (body.length > this.maxChars) return body;
    for (const oldest of this.#bodies.keys()) {
      if (this.#bodies.size < this.maxEntries && this.#chars + body.length <= this.maxChars) break;
      this.#forget(oldest);
    }
    this.#bodies.set(key, { fingerprint, body });
    this.#chars += body.length;
    return body;
  }

  #forget(key: string): void {
    const known = this.#bodies.get(key);
    if (known === undefined) return;
    this.#bodies.delete(key);
    this.#chars -= known.body.length;
  }

  get size(): number {
    return this.#bodies.size;
  }

  /** Characters of JSON held. */
  get chars(): number {
    return this.#chars;
  }
}
