import type { Page, Tenant } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { PageBodies } from "../src/http/page-bodies.js";

function tenant(id: string, version: number, name = `Tenant ${id}`): Tenant {
  const at = new Date("2026-01-01T00:00:00.000Z");
  return {
    id,
    slug: `t-${id}`,
    name,
    status: "active",
    plan: "pro",
    settings: {},
    version,
    createdAt: at,
    updatedAt: at,
  };
}

/** JSON.stringify, counting its calls. */
function counting(): { bodies: PageBodies; calls: () => number } {
  let calls = 0;
  const bodies = new PageBodies((page) => {
    calls++;
    return JSON.stringify(page);
  }, 2);
  return { bodies, calls: () => calls };
}

describe("PageBodies", () => {
  it("serialises a page once while its tenants and their versions stay the same", () => {
    const { bodies, calls } = counting();
    const page: Page<Tenant> = { items: [tenant("a", 1), tenant("b", 3)], nextCursor: "c1" };
    const body = bodies.body("q", page);
    expect(body).toEqual(Buffer.from(JSON.stringify(page)));
    // A fresh read of the same page (new objects, same ids and versions) reuses the body.
    expect(bodies.body("q", structuredClone(page))).toBe(body);
    expect(calls()).toBe(1);
  });

  it("serialises again when a version, the tenants, their order or the cursor change", () => {
    const { bodies, calls } = counting();
    const pages: Page<Tenant>[] = [
      { items: [tenant("a", 1), tenant("b", 1)] },
      { items: [tenant("a", 2, "Renamed"), tenant("b", 1)] },
      { items: [tenant("a", 2, "Renamed")] },
      { items: [tenant("a", 2, "Renamed"), tenant("c", 1)] },
      { items: [tenant("c", 1), tenant("a", 2, "Renamed")] },
      { items: [tenant("c", 1), tenant("a", 2, "Renamed")], nextCursor: "next" },
    ];
    for (const page of pages) expect(bodies.body("q", page)).toEqual(Buffer.from(JSON.stringify(page)));
    expect(calls()).toBe(pages.length);
  });

  it("keeps one body per query, and at most maxEntries of them", () => {
    const { bodies, calls } = counting();
    const first: Page<Tenant> = { items: [tenant("a", 1)] };
    const second: Page<Tenant> = { items: [tenant("b", 1)] };
    expect(bodies.body("first", first)).toEqual(Buffer.from(JSON.stringify(first)));
    expect(bodies.body("second", second)).toEqual(Buffer.from(JSON.stringify(second)));
    expect(bodies.body("first", first)).toEqual(Buffer.from(JSON.stringify(first)));
    expect(calls()).toBe(2);
    bodies.body("third", second);
    expect(bodies.size).toBe(2);
    expect(calls()).toBe(3);
    // "first" was written least recently (a reuse does not count): it went out, "second" stayed.
    bodies.body("second", second);
    expect(calls()).toBe(3);
    bodies.body("first", first);
    expect(calls()).toBe(4);
  });
});

describe("PageBodies memory bound", () => {
  it("holds at most maxChars of JSON, dropping the oldest bodies, and never one larger than that", () => {
    const page = (id: string, count: number): Page<Tenant> => ({
      items: Array.from({ length: count }, (_, i) => tenant(`${id}${i}`, 1)),
    });
    const size = JSON.stringify(page("a", 1)).length;
    let calls = 0;
    const bodies = new PageBodies(
      (body) => {
        calls++;
        return JSON.stringify(body);
      },
      100,
      2 * size + 1,
    );
    bodies.body("one", page("a", 1));
    bodies.body("two", page("b", 1));
    expect([bodies.size, bodies.bytes]).toEqual([2, 2 * size]);
    bodies.body("three", page("c", 1));
    expect([bodies.size, bodies.bytes]).toEqual([2, 2 * size]);
    // "one" went out to make room; "two" and "three" are reused.
    bodies.body("two", page("b", 1));
    bodies.body("three", page("c", 1));
    expect(calls).toBe(3);
    bodies.body("one", page("a", 1));
    expect(calls).toBe(4);
    // A body larger than the whole budget is answered, not kept, and keeps the others.
    const big = page("z", 3);
    expect(JSON.stringify(big).length).toBeGreaterThan(2 * size + 1);
    expect(bodies.body("big", big)).toEqual(Buffer.from(JSON.stringify(big)));
    expect(bodies.body("big", big)).toEqual(Buffer.from(JSON.stringify(big)));
    expect(calls).toBe(6);
    expect([bodies.size, bodies.bytes]).toEqual([2, 2 * size]);
  });
});
