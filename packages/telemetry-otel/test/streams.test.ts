import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { createLocalFileManager, createLocalObjectStorage } from "@proj/adapter-local-fs";
import { createMemoryObjectStorage } from "@proj/adapter-memory";
import { collectBytes, expectErrorCode, sleep } from "@proj/contract-tests";
import type { LocalFileManager, ObjectStorage } from "@proj/ports";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { instrumentLocalFileManager, instrumentObjectStorage } from "../src/index.js";
import { isChildOf, TestTelemetry } from "./support/telemetry.js";

const telemetry = new TestTelemetry();
const body = Buffer.alloc(200_000, 7);
let folder: string;

beforeEach(async () => {
  telemetry.reset();
  folder = await fs.mkdtemp(join(tmpdir(), "telemetry-otel-streams-"));
});
afterEach(() => fs.rm(folder, { recursive: true, force: true }));
afterAll(() => telemetry.shutdown());

/** Waits until the span named `name` has been exported (a stream's span ends after its last event). */
async function ended(name: string) {
  for (let i = 0; i < 100 && telemetry.named(name).length === 0; i++) await sleep(5);
  return telemetry.one(name);
}

describe.each([
  ["adapter-memory", () => createMemoryObjectStorage()],
  ["adapter-local-fs", () => createLocalObjectStorage({ root: folder })],
])("instrumentObjectStorage over %s", (_name, create: () => ObjectStorage) => {
  let storage: ObjectStorage;
  beforeEach(() => {
    storage = instrumentObjectStorage(create(), telemetry.options);
  });
  afterEach(() => storage.close());

  it("records put and getBytes with their bytes, as CLIENT spans named ObjectStorage.{method}", async () => {
    await storage.put("a/b.bin", body);
    const { bytes } = await storage.getBytes("a/b.bin");
    expect(bytes.byteLength).toBe(body.length);
    const put = telemetry.one("ObjectStorage.put");
    expect(put.kind).toBe(SpanKind.CLIENT);
    expect(put.attributes).toEqual({
      "proj.port": "ObjectStorage",
      "proj.method": "put",
      "proj.bytes": body.length,
    });
    expect(telemetry.one("ObjectStorage.getBytes").attributes["proj.bytes"]).toBe(body.length);
  });

  it("keeps a get's span open until its body has been read, then records the bytes read", async () => {
    await storage.put("k", body);
    telemetry.reset();
    const { info, body: stream } = await storage.get("k");
    expect(info.size).toBe(body.length);
    await sleep(20);
    expect(telemetry.named("ObjectStorage.get")).toEqual([]);
    expect(Buffer.compare(await collectBytes(stream), body)).toBe(0);
    const span = await ended("ObjectStorage.get");
    expect(span.attributes).toMatchObject({ "proj.bytes": body.length, "proj.stream.completed": true });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("counts the bytes of a range", async () => {
    await storage.put("k", body);
    telemetry.reset();
    const { body: stream } = await storage.get("k", { range: { start: 10, end: 109 } });
    expect((await collectBytes(stream)).length).toBe(100);
    expect((await ended("ObjectStorage.get")).attributes["proj.bytes"]).toBe(100);
  });

  it("ends a get's span when the reader destroys the body early, as not completed and not failed", async () => {
    await storage.put("k", body);
    telemetry.reset();
    const { body: stream } = await storage.get("k");
    for await (const _chunk of stream) break;
    const span = await ended("ObjectStorage.get");
    expect(span.attributes["proj.stream.completed"]).toBe(false);
    expect(span.attributes["proj.bytes"]).toBeLessThan(body.length);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("ends the span of a get that fails before any byte with its error", async () => {
    await expectErrorCode(storage.get("missing"), "NOT_FOUND");
    const span = telemetry.one("ObjectStorage.get");
    expect(span.attributes["error.type"]).toBe("NOT_FOUND");
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("fails the span of a body cancelled by its signal, and the reader gets the same error", async () => {
    await storage.put("k", body);
    telemetry.reset();
    const controller = new AbortController();
    const { body: stream } = await storage.get("k", { signal: controller.signal });
    controller.abort();
    const error = await expectErrorCode(() => collectBytes(stream), "CANCELLED");
    const span = await ended("ObjectStorage.get");
    expect(span.attributes["error.type"]).toBe(error.code);
    expect(span.attributes["proj.stream.completed"]).toBe(false);
  });

  it("records a list as one span over the whole iteration, with the objects seen", async () => {
    for (const key of ["p/1", "p/2", "p/3", "q/1"]) await storage.put(key, "x");
    telemetry.reset();
    const keys: string[] = [];
    for await (const summary of storage.list({ prefix: "p/", pageSize: 1 })) keys.push(summary.key);
    expect(keys).toEqual(["p/1", "p/2", "p/3"]);
    expect(telemetry.one("ObjectStorage.list").attributes).toMatchObject({
      "proj.items": 3,
      "proj.stream.completed": true,
    });
    const page = await storage.listPage({ prefix: "p/", pageSize: 2 });
    expect(page.items).toHaveLength(2);
    expect(telemetry.one("ObjectStorage.listPage").attributes["proj.items"]).toBe(2);
  });

  it("ends a list's span when the loop breaks", async () => {
    for (const key of ["1", "2", "3"]) await storage.put(key, "x");
    telemetry.reset();
    for await (const _summary of storage.list()) break;
    expect(telemetry.one("ObjectStorage.list").attributes).toMatchObject({
      "proj.items": 1,
      "proj.stream.completed": false,
    });
  });
});

describe("instrumentLocalFileManager", () => {
  let files: LocalFileManager;
  beforeEach(() => {
    files = instrumentLocalFileManager(createLocalFileManager({ root: folder }), telemetry.options);
  });
  afterEach(() => files.close());

  it("records write and read with their bytes, as INTERNAL spans", async () => {
    await files.write("a/report.csv", Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
    const read = await files.read("a/report.csv");
    expect(read.byteLength).toBe(body.length);
    const write = telemetry.one("LocalFileManager.write");
    expect(write.kind).toBe(SpanKind.INTERNAL);
    expect(write.attributes).toEqual({
      "proj.port": "LocalFileManager",
      "proj.method": "write",
      "proj.bytes": body.length,
    });
    expect(telemetry.one("LocalFileManager.read").attributes["proj.bytes"]).toBe(body.length);
    expect(files.root).toBe(folder);
  });

  it("keeps a read stream's span open until the stream ends, with the bytes read", async () => {
    await files.write("f.bin", body);
    telemetry.reset();
    const stream = await files.createReadStream("f.bin");
    expect(Buffer.compare(await collectBytes(stream), body)).toBe(0);
    expect((await ended("LocalFileManager.createReadStream")).attributes).toMatchObject({
      "proj.bytes": body.length,
      "proj.stream.completed": true,
    });
  });

  it("runs withTempFile's work inside its span", async () => {
    await files.withTempFile(async (path) => {
      await fs.writeFile(path, "x");
      await files.list();
    });
    expect(
      isChildOf(telemetry.one("LocalFileManager.list"), telemetry.one("LocalFileManager.withTempFile")),
    ).toBe(true);
  });

  it("records NOT_FOUND, and a refused path, as error.type", async () => {
    await expectErrorCode(files.read("missing.txt"), "NOT_FOUND");
    await expectErrorCode(files.stat("../outside"), "INVALID_ARGUMENT");
    expect(telemetry.one("LocalFileManager.read").attributes["error.type"]).toBe("NOT_FOUND");
    expect(telemetry.one("LocalFileManager.stat").attributes["error.type"]).toBe("INVALID_ARGUMENT");
  });
});
