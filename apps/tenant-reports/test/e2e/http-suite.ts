import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposedService, composeService } from "../../src/composition/compose.js";
import { loadConfig } from "../../src/composition/config.js";

/** What a composition needs around it: the environment that selects adapters, and its cleanup. */
export interface Composition {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export type Caller = (
  method: string,
  path: string,
  body?: unknown,
  redirect?: "follow" | "manual",
) => Promise<Response>;

export function caller(base: string, token: string | undefined): Caller {
  return (method, path, body, redirect = "follow") =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect,
    });
}

export async function json<T = Record<string, unknown>>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** RFC 4180 records, enough for the reports this service writes. */
function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      record.push(field);
      field = "";
    } else if (char === "\r" && text[i + 1] === "\n") {
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      i++;
    } else field += char;
  }
  if (field !== "" || record.length > 0) records.push([...record, field]);
  return records;
}

export interface ReportStatusBody {
  id: string;
  format: "xlsx" | "csv";
  status: "queued" | "running" | "done" | "failed";
  attempts: number;
  requestedAt: string;
  startedAt?: string;
  finishedAt?: string;
  rowCount?: number;
  byteSize?: number;
  errorCode?: string;
}

/** Polls a report's status until it is done or failed (a worker of the composition makes it). */
export async function settledReport(call: Caller, id: string, timeoutMs = 60_000): Promise<ReportStatusBody> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
    const report = await json<ReportStatusBody>(await call("GET", `/reports/${id}/status`), 200);
    if (report.status === "done" || report.status === "failed") return report;
    if (Date.now() > deadline) throw new Error(`report ${id} still ${report.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/**
 * The end-to-end HTTP suite: the same requests and expectations for every composition, which
 * differ only in the environment they start from.
 */
export function httpSuite(name: string, makeComposition: () => Promise<Composition>): void {
  describe(`tenant-reports over HTTP: ${name}`, () => {
    let composition: Composition;
    let service: ComposedService;
    let base: string;
    let admin: Caller;
    let tenantA: { id: string; version: number };
    let tenantB: { id: string; version: number };
    let asA: Caller;
    let asB: Caller;
    let reportOfA: { id: string; rowCount: number; byteSize: number };

    beforeAll(async () => {
      composition = await makeComposition();
      service = await composeService(loadConfig(composition.env));
      base = await service.http.listen({ host: "127.0.0.1", port: 0 });
      const issuer = service.devIssuer;
      if (issuer === undefined) throw new Error("the e2e suite runs in development token mode");
      admin = caller(base, await issuer.issue({ subject: "e2e-admin", roles: ["admin"] }));
    }, 120_000);

    afterAll(async () => {
      await service?.close();
      await composition?.cleanup();
    }, 120_000);

    it("answers /health without a token", async () => {
      expect(await json(await caller(base, undefined)("GET", "/health"), 200)).toEqual({ status: "ok" });
    });

    it("refuses requests without a valid token with 401 and a reason", async () => {
      expect(await json(await caller(base, undefined)("GET", "/tenants"), 401)).toMatchObject({
        error: "UNAUTHENTICATED",
        reason: "missing",
      });
      expect(await json(await caller(base, "not.a.token")("GET", "/tenants"), 401)).toMatchObject({
        reason: "malformed",
      });
    });

    it("lets an admin create tenants, refusing a taken slug (409) and a bad one (400)", async () => {
      const a = await json<{ id: string; version: number; status: string }>(
        await admin("POST", "/tenants", { slug: "acme", name: "Acme", plan: "pro" }),
        201,
      );
      expect(a.status).toBe("active");
      tenantA = a;
      tenantB = await json(
        await admin("POST", "/tenants", { slug: "globex", name: "Globex", plan: "starter" }),
        201,
      );
      expect(
        await json(await admin("POST", "/tenants", { slug: "acme", name: "Again", plan: "pro" }), 409),
      ).toMatchObject({ error: "CONFLICT" });
      expect((await admin("POST", "/tenants", { slug: "Not Valid", name: "x", plan: "pro" })).status).toBe(
        400,
      );
      const page = await json<{ items: { slug: string }[] }>(await admin("GET", "/tenants?limit=10"), 200);
      expect(page.items.map((t) => t.slug).sort()).toEqual(["acme", "globex"]);
    });

    it("gives tenants their own tokens, which cannot administer", async () => {
      const mint = async (tenantId: string) =>
        (
          await json<{ token: string }>(
            await admin("POST", "/dev/tokens", { subject: `user-${tenantId}`, tenantId }),
            201,
          )
        ).token;
      asA = caller(base, await mint(tenantA.id));
      asB = caller(base, await mint(tenantB.id));
      expect(await json(await asA("GET", "/tenants"), 403)).toMatchObject({ error: "PERMISSION_DENIED" });
      expect(await json(await asA("GET", `/tenants/${tenantA.id}`), 200)).toMatchObject({ slug: "acme" });
      expect((await asA("GET", `/tenants/${tenantB.id}`)).status).toBe(403);
    });

    it("loads sample orders into the caller's tenant only", async () => {
      expect(await json(await asA("POST", "/orders/sample", { count: 1_200 }), 201)).toEqual({
        added: 1_200,
      });
      expect(await json(await asB("POST", "/orders/sample", { count: 37 }), 201)).toEqual({ added: 37 });
    });

    it("queues an XLSX report of the caller's orders, which a worker stores and the service serves back", async () => {
      const requested = await asA("POST", "/reports", { format: "xlsx" });
      const queued = await json<ReportStatusBody>(requested, 202);
      expect(queued).toMatchObject({ format: "xlsx", status: "queued", attempts: 0 });
      expect(requested.headers.get("location")).toBe(`/reports/${queued.id}`);
      const done = await settledReport(asA, queued.id);
      expect(done).toMatchObject({ id: queued.id, status: "done", attempts: 1, rowCount: 1_200 });
      expect(Date.parse(done.finishedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(done.requestedAt));
      reportOfA = { id: done.id, rowCount: done.rowCount ?? 0, byteSize: done.byteSize ?? 0 };
      // A storage that signs URLs answers 303 to one; the others stream the file (200).
      const answer = await asA("GET", `/reports/${reportOfA.id}`, undefined, "manual");
      if (answer.status === 303) expect(answer.headers.get("location")).toMatch(/^https?:\/\//);
      else expect(answer.status).toBe(200);
      await answer.body?.cancel();
      const download = await asA("GET", `/reports/${reportOfA.id}`);
      expect(download.status).toBe(200);
      const bytes = Buffer.from(await download.arrayBuffer());
      expect(bytes.length).toBe(reportOfA.byteSize);
      expect(bytes.subarray(0, 4).toString("hex")).toBe("504b0304");
    });

    it("generates a CSV report with exactly the caller tenant's rows", async () => {
      const queued = await json<{ id: string }>(await asB("POST", "/reports", { format: "csv" }), 202);
      const report = await settledReport(asB, queued.id);
      expect(report).toMatchObject({ status: "done", format: "csv", rowCount: 37 });
      const text = await (await asB("GET", `/reports/${report.id}`)).text();
      const records = csvRecords(text);
      expect(records[0]).toEqual([
        "Order",
        "Reference",
        "Customer",
        "Placed",
        "Quantity",
        "Unit price",
        "Discount",
        "Total",
        "Paid",
      ]);
      expect(records.slice(1)).toHaveLength(37);
      for (const record of records.slice(1)) expect(record[0]).toMatch(/^\d+$/);
      // A customer name that looks like a formula stays text: escaped with a leading quote.
      const customers = records.slice(1).map((record) => record[2] ?? "");
      expect(customers.every((customer) => !/^[=+\-@]/.test(customer))).toBe(true);
      expect(new Set(customers).size).toBeGreaterThan(1);
    });

    it("never lets one tenant reach another's report", async () => {
      expect(await json(await asB("GET", `/reports/${reportOfA.id}`), 404)).toMatchObject({
        error: "NOT_FOUND",
      });
      expect(await json(await asB("GET", `/reports/${reportOfA.id}/status`), 404)).toMatchObject({
        error: "NOT_FOUND",
      });
      expect((await asB("GET", "/reports/not-a-report-id")).status).toBe(404);
      expect((await asB("GET", "/reports/not-a-report-id/status")).status).toBe(404);
    });

    it("suspends a tenant with optimistic concurrency, and a suspended tenant cannot report", async () => {
      const current = await json<{ version: number }>(await admin("GET", `/tenants/${tenantB.id}`), 200);
      expect(
        await json(
          await admin("POST", `/tenants/${tenantB.id}/suspend`, { expectedVersion: current.version + 5 }),
          409,
        ),
      ).toMatchObject({
        error: "CONFLICT",
      });
      const suspended = await json<{ status: string; version: number }>(
        await admin("POST", `/tenants/${tenantB.id}/suspend`, { expectedVersion: current.version }),
        200,
      );
      expect(suspended).toMatchObject({ status: "suspended", version: current.version + 1 });
      // Read through the cache: the write invalidated it.
      expect(await json(await asB("GET", `/tenants/${tenantB.id}`), 200)).toMatchObject({
        status: "suspended",
      });
      expect(await json(await asB("POST", "/reports", { format: "csv" }), 403)).toMatchObject({
        error: "PERMISSION_DENIED",
      });
    });

    it("refuses unknown body properties with 400 instead of dropping them", async () => {
      const smuggled = await json(
        await asA("POST", "/reports", { format: "csv", tenantId: tenantB.id }),
        400,
      );
      expect(smuggled).toMatchObject({ error: "INVALID_ARGUMENT" });
      expect(
        await json(
          await admin("POST", "/tenants", { slug: "extra-prop", name: "X", plan: "pro", id: "mine" }),
          400,
        ),
      ).toMatchObject({ error: "INVALID_ARGUMENT" });
      expect(
        await json(
          await admin("POST", "/dev/tokens", { subject: "s", tenantId: tenantA.id, admin: true }),
          400,
        ),
      ).toMatchObject({ error: "INVALID_ARGUMENT" });
      const page = await json<{ items: { slug: string }[] }>(await admin("GET", "/tenants?limit=10"), 200);
      expect(page.items.map((t) => t.slug)).not.toContain("extra-prop");
    });

    it("answers unknown routes with 404 in the app's error shape", async () => {
      for (const [method, path] of [
        ["GET", "/no-such-route"],
        ["POST", `/tenants/${tenantA.id}/archive`],
        ["DELETE", "/reports"],
      ] as const) {
        const body = await json(await admin(method, path), 404);
        expect(body).toEqual({ error: "NOT_FOUND", message: expect.any(String) });
      }
    });

    it("sends the code and a generic message for refusals, never the backend's own text", async () => {
      const backendText = /duplicate|constraint|unique|tenants|slug|uuid|syntax|select|insert|acme|sql/i;
      const taken = await json<{ error: string; message: string }>(
        await admin("POST", "/tenants", { slug: "acme", name: "Again", plan: "pro" }),
        409,
      );
      expect(taken.error).toBe("CONFLICT");
      expect(taken.message).not.toMatch(backendText);
      for (const id of ["not-a-uuid", "00000000-0000-4000-8000-000000000000"]) {
        const response = await admin("GET", `/tenants/${id}`);
        const body = (await response.json()) as { error: string; message: string };
        expect(response.status, JSON.stringify(body)).toBeLessThan(500);
        expect(body.message).not.toMatch(backendText);
        expect(body.message).not.toContain(id);
      }
      const stale = await json<{ message: string }>(
        await admin("POST", `/tenants/${tenantA.id}/suspend`, { expectedVersion: 999 }),
        409,
      );
      expect(stale.message).not.toMatch(backendText);
      expect(stale.message).not.toContain(tenantA.id);
    });

    it("validates request bodies with 400", async () => {
      expect((await asA("POST", "/reports", { format: "pdf" })).status).toBe(400);
      expect((await asA("POST", "/orders/sample", { count: 0 })).status).toBe(400);
    });

    it("serves pages of tenants from the cache, yet never a stale page after a write through the API", async () => {
      type Listed = { id: string; slug: string; status: string; version: number; settings: unknown };
      type ListPage = { items: Listed[]; nextCursor?: string };
      const list = async (query: string) => json<ListPage>(await admin("GET", `/tenants${query}`), 200);
      const slugs = (page: ListPage) => page.items.map((tenant) => tenant.slug);
      // Read every page about to change, so each is cached before the writes below.
      const before = await list("?limit=10");
      await list("?status=suspended");
      await list("?status=active&limit=2");
      expect(slugs(before)).not.toContain("initech");

      const created = await json<Listed & { createdAt: string; updatedAt: string }>(
        await admin("POST", "/tenants", {
          slug: "initech",
          name: "Initech",
          plan: "pro",
          settings: { seats: 3, tags: ["a"] },
        }),
        201,
      );
      const listed10 = await admin("GET", "/tenants?limit=10");
      expect(listed10.headers.get("content-type")).toBe("application/json; charset=utf-8");
      const afterCreate = await json<ListPage>(listed10, 200);
      expect(slugs(afterCreate)).toEqual([...slugs(before), "initech"]);
      // A page answers each tenant exactly as the single read does, byte for byte.
      const single = await (await admin("GET", `/tenants/${created.id}`)).text();
      const listed = afterCreate.items.find((tenant) => tenant.id === created.id);
      expect(JSON.stringify(listed)).toBe(single);
      expect(JSON.parse(single)).toEqual(created);

      const suspended = await json<Listed>(
        await admin("POST", `/tenants/${created.id}/suspend`, { expectedVersion: created.version }),
        200,
      );
      expect(slugs(await list("?status=suspended"))).toContain("initech");
      expect((await list("?limit=10")).items.find((t) => t.id === created.id)).toMatchObject({
        status: "suspended",
        version: created.version + 1,
      });
      // A refused write (stale version) changes nothing, and the pages still say so.
      expect(
        (await admin("POST", `/tenants/${created.id}/reactivate`, { expectedVersion: created.version }))
          .status,
      ).toBe(409);
      expect(slugs(await list("?status=suspended"))).toContain("initech");

      await json(
        await admin("POST", `/tenants/${created.id}/reactivate`, { expectedVersion: suspended.version }),
        200,
      );
      expect(slugs(await list("?status=suspended"))).not.toContain("initech");
      // Walking the active tenants page by page ends on the one just reactivated.
      const walked: string[] = [];
      let query = "?status=active&limit=2";
      for (;;) {
        const page = await list(query);
        walked.push(...slugs(page));
        if (page.nextCursor === undefined) break;
        query = `?status=active&limit=2&after=${encodeURIComponent(page.nextCursor)}`;
      }
      expect(walked.at(-1)).toBe("initech");
    });

    it("shuts down gracefully: close is idempotent and the server stops accepting connections", async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "tenant-reports-second-"));
      const second = await composeService(loadConfig({ ...composition.env, DATA_DIR: dataDir }));
      const address = await second.http.listen({ host: "127.0.0.1", port: 0 });
      expect((await fetch(`${address}/health`)).status).toBe(200);
      await Promise.all([second.close(), second.close()]);
      await second.close();
      await expect(fetch(`${address}/health`)).rejects.toThrow();
      await rm(dataDir, { recursive: true, force: true });
    });
  });
}
