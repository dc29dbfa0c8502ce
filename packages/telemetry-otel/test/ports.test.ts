import { Writable } from "node:stream";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  createMemoryDocumentDatabase,
  createMemoryTenantRepository,
  createMemoryTokenAuthority,
} from "@proj/adapter-memory";
import { createMemoryCache } from "@proj/cache-memory";
import { expectErrorCode } from "@proj/contract-tests";
import { createOpenReportGenerator } from "@proj/report-openreport";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  instrument,
  instrumentCache,
  instrumentDocumentDatabase,
  instrumentReportGenerator,
  instrumentTenantRepository,
  instrumentTokenDecoder,
} from "../src/index.js";
import { isChildOf, TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
beforeEach(() => telemetry.reset());
afterAll(() => telemetry.shutdown());

/** A writable that drops what it is given, counting bytes. */
function sink(): Writable & { bytes: number } {
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.bytes += chunk.length;
      callback();
    },
  }) as Writable & { bytes: number };
  out.bytes = 0;
  return out;
}

describe("instrumentDocumentDatabase", () => {
  it("names spans {method} {collection} with db.collection.name and rows returned", async () => {
    const db = instrumentDocumentDatabase(createMemoryDocumentDatabase(), telemetry.options);
    const orders = db.collection<{ total: number }>("orders");
    await orders.insertMany([{ total: 1 }, { total: 2 }, { total: 3 }]);
    const page = await orders.find({}, { limit: 2 });
    expect(page.items).toHaveLength(2);
    await orders.findById("missing");
    expect(telemetry.spans().map((span) => span.name)).toEqual([
      "insertMany orders",
      "find orders",
      "findById orders",
    ]);
    const find = telemetry.one("find orders");
    expect(find.kind).toBe(SpanKind.CLIENT);
    expect(find.attributes).toEqual({
      "db.system.name": "other_nosql",
      "db.operation.name": "find",
      "db.collection.name": "orders",
      "db.response.returned_rows": 2,
      "proj.port": "DocumentDatabase",
      "proj.method": "find",
    });
    expect(telemetry.one("findById orders").attributes["db.response.returned_rows"]).toBe(0);
    await db.close();
  });

  it("nests the calls made inside a transaction under its span, and records CONFLICT", async () => {
    const db = instrumentDocumentDatabase(createMemoryDocumentDatabase(), {
      ...telemetry.options,
      attributes: { "db.system.name": "mongodb", "db.namespace": "shop" },
    });
    await db.transaction(async (tx) => {
      await tx.collection("carts").insertOne({ id: "c1", items: 1 });
    });
    await expectErrorCode(db.collection("carts").insertOne({ id: "c1", items: 2 }), "CONFLICT");
    const [inside, conflict] = telemetry.named("insertOne carts");
    const transaction = telemetry.one("transaction shop");
    expect(transaction.attributes["db.system.name"]).toBe("mongodb");
    expect(isChildOf(inside!, transaction)).toBe(true);
    expect(conflict?.attributes["error.type"]).toBe("CONFLICT");
    expect(conflict?.status.code).toBe(SpanStatusCode.ERROR);
    await db.dropCollection("carts");
    expect(telemetry.one("dropCollection carts").attributes["db.collection.name"]).toBe("carts");
    await db.close();
  });
});

describe("instrumentTenantRepository", () => {
  it("records INTERNAL spans per call, NOT_FOUND and CONFLICT as error.type, and items listed", async () => {
    const tenants = instrumentTenantRepository(createMemoryTenantRepository(), telemetry.options);
    const acme = await tenants.create({ slug: "acme", name: "Acme", plan: "pro" });
    await expectErrorCode(tenants.getBySlug("nobody"), "NOT_FOUND");
    await expectErrorCode(tenants.update(acme.id, { name: "Acme 2" }, 7), "CONFLICT");
    await tenants.list();
    const create = telemetry.one("TenantRepository.create");
    expect(create.kind).toBe(SpanKind.INTERNAL);
    expect(create.attributes).toEqual({ "proj.port": "TenantRepository", "proj.method": "create" });
    expect(telemetry.one("TenantRepository.getBySlug").attributes["error.type"]).toBe("NOT_FOUND");
    expect(telemetry.one("TenantRepository.update").attributes["error.type"]).toBe("CONFLICT");
    expect(telemetry.one("TenantRepository.list").attributes["proj.items"]).toBe(1);
    const points = (await telemetry.points()).filter(
      (point) => point.attributes["proj.port"] === "TenantRepository",
    );
    const notFound = {
      "proj.port": "TenantRepository",
      "proj.method": "getBySlug",
      "error.type": "NOT_FOUND",
    };
    expect(
      points.find(
        (point) => point.name === "proj.operation.duration" && point.attributes["proj.method"] === "create",
      ),
    ).toMatchObject({ attributes: { "proj.port": "TenantRepository", "proj.method": "create" }, value: 1 });
    expect(
      points
        .filter((point) => point.attributes["error.type"] === "NOT_FOUND")
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual([
      expect.objectContaining({ name: "proj.operation.duration", attributes: notFound, value: 1 }),
      expect.objectContaining({ name: "proj.operation.errors", attributes: notFound, value: 1 }),
    ]);
    await tenants.close();
  });
});

describe("instrumentTokenDecoder", () => {
  it("records a refusal's stable reason, on the span and on the error counter", async () => {
    const { issuer, decoder } = createMemoryTokenAuthority();
    const tokens = instrumentTokenDecoder(decoder, telemetry.options);
    await tokens.decode(await issuer.issue({ subject: "u1" }));
    await expectErrorCode(
      tokens.decode(await issuer.issue({ subject: "u1", expiresInSeconds: -60 })),
      "UNAUTHENTICATED",
    );
    const [accepted, refused] = telemetry.named("TokenDecoder.decode");
    expect(accepted?.attributes).toEqual({ "proj.port": "TokenDecoder", "proj.method": "decode" });
    expect(refused?.attributes).toMatchObject({
      "error.type": "UNAUTHENTICATED",
      "proj.token.failure_reason": "expired",
    });
    const errors = (await telemetry.points()).filter(
      (point) => point.name === "proj.operation.errors" && point.attributes["proj.port"] === "TokenDecoder",
    );
    expect(errors.map((point) => [point.attributes["proj.token.failure_reason"], point.value])).toEqual([
      ["expired", 1],
    ]);
    await tokens.close();
  });
});

describe("instrumentReportGenerator", () => {
  it("spans the whole generation, with format, rows, bytes and sheets, and pulls rows inside it", async () => {
    const lookups = instrumentCache(createMemoryCache<unknown>({ maxEntries: 10 }), telemetry.options);
    const generator = instrumentReportGenerator(createOpenReportGenerator(), telemetry.options);
    async function* rows() {
      for (let i = 0; i < 50; i++) {
        await lookups.get(`row:${i % 2}`);
        yield { n: i };
      }
    }
    const output = sink();
    const result = await generator.generate(
      { sheets: [{ name: "Numbers", columns: [{ header: "N", key: "n", type: "integer" }], rows: rows() }] },
      output,
      { format: "csv" },
    );
    const span = telemetry.one("ReportGenerator.generate");
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.attributes).toEqual({
      "proj.port": "ReportGenerator",
      "proj.method": "generate",
      "proj.report.format": "csv",
      "proj.report.rows": 50,
      "proj.report.sheets": 1,
      "proj.bytes": result.byteSize,
    });
    expect(result.byteSize).toBe(output.bytes);
    const gets = telemetry.named("get");
    expect(gets).toHaveLength(50);
    expect(gets.every((get) => isChildOf(get, span))).toBe(true);
    expect(generator.capabilities).toEqual(createOpenReportGenerator().capabilities);
    await lookups.close();
  });

  it("fails the span when a row source throws, and never records an unknown format as an attribute", async () => {
    const generator = instrumentReportGenerator(createOpenReportGenerator(), telemetry.options);
    const broken = new TypeError("row source broke");
    // biome-ignore lint/correctness/useYield: the source fails before its first row
    async function* rows(): AsyncGenerator<Record<string, unknown>> {
      throw broken;
    }
    const definition = {
      sheets: [{ name: "S", columns: [{ header: "A", key: "a", type: "string" as const }], rows: rows() }],
    };
    await expect(generator.generate(definition, sink(), { format: "csv" })).rejects.toBeDefined();
    const failed = telemetry.one("ReportGenerator.generate");
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes["error.type"]).toBeDefined();
    telemetry.reset();
    await expectErrorCode(
      generator.generate({ sheets: [] }, sink(), { format: "pdf-with-customer-name" as never }),
      "NOT_SUPPORTED",
    );
    expect(telemetry.one("ReportGenerator.generate").attributes["proj.report.format"]).toBeUndefined();
  });
});

describe("instrument", () => {
  it("decorates an adapter as the port it is told, like the port's own function", async () => {
    const cache = instrument("cache", createMemoryCache<unknown>({ maxEntries: 10 }), telemetry.options);
    await cache.set("k", 1);
    expect(telemetry.one("set").attributes["proj.port"]).toBe("Cache");
    const tenants = instrument("tenantRepository", createMemoryTenantRepository(), telemetry.options);
    await tenants.list();
    expect(telemetry.one("TenantRepository.list").attributes["proj.port"]).toBe("TenantRepository");
    await Promise.all([cache.close(), tenants.close()]);
  });

  it("refuses a port name it does not know", () => {
    expect(() =>
      instrument("queue" as never, createMemoryCache<unknown>({ maxEntries: 10 }) as never),
    ).toThrow(TypeError);
    expect(() => instrument("constructor" as never, {} as never)).toThrow(TypeError);
  });
});
