import { Readable } from "node:stream";
import { isOutcomeUnknown, type ObjectStorage } from "@proj/ports";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectBytes, sleep } from "../harness.js";
import { expectBytes, MiB, patternBytes, patternChunks } from "../object-storage/fixtures.js";
import { FaultProxy } from "./fault-proxy.js";
import { expectFailsWithin, expectRecoversWithin, expectSettlesWithin } from "./settle.js";

/**
 * What an `ObjectStorage` adapter over the network hands the fault suite. The suite puts a TCP
 * `FaultProxy` between the adapter and its real server and checks what the server holds through a
 * second store that bypasses the proxy.
 */
export interface ObjectStorageFaultHarness {
  /** The real server's TCP address. */
  target(): { host: string; port: number };
  /** A store on a fresh, empty namespace that connects to `via` (the proxy) instead of the server. */
  create(via: { host: string; port: number }): Promise<ObjectStorage>;
  /** A store on the same namespace as `store`, straight to the server: the suite's view of it. */
  direct(store: ObjectStorage): Promise<ObjectStorage>;
  /** Keys (as `store` names them) of multipart uploads in progress in its namespace, read on the server. */
  openUploads(store: ObjectStorage): Promise<string[]>;
  /** Removes the namespace and closes `store` (already closed by some cases). */
  destroy(store: ObjectStorage): Promise<void>;
  /** The adapter's documented bounds, as configured in `create`. */
  deadlines: {
    /** Every call settles within this, retries included. */
    callMs: number;
    /** A failing put settles within this: its request's deadline plus its clean-up. */
    putMs: number;
    /** A body that stops flowing in the middle of a `get` fails within this. */
    idleMs: number;
    /** Once the network is back, what a failed put could not clean up is gone within this. */
    cleanupMs: number;
  };
  /** Bodies larger than this go up as a multipart upload (the adapter's part size). */
  partSize: number;
  capabilities: { conditionalPut: boolean };
}

/** Head room over the documented bounds for a loaded machine. */
const SLACK_MS = 5_000;

/**
 * Polls `condition` until it holds. A failing poll counts as "not yet": reading an object on the
 * server while the adapter overwrites it may fail on some servers, and is not what a case checks.
 */
async function waitFor(condition: () => Promise<boolean>, boundMs: number, what: string): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${boundMs} ms`);
    await sleep(50);
  }
}

/** A body the test releases in two steps: `head` bytes at once, the rest once `release()` is called. */
function gatedBody(head: number, total: number, seed: number): { body: Readable; release(): void } {
  const opened = new AbortController();
  const gate = new Promise<void>((resolve) => opened.signal.addEventListener("abort", () => resolve()));
  const release = () => opened.abort();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield* patternChunks(head, 256 * 1024, seed);
    await gate;
    yield* patternChunks(total - head, 256 * 1024, seed + 1);
  }
  return { body: Readable.from(chunks()), release };
}

/** The bytes `patternChunks(total, chunkSize, seed)` yields, in one buffer. */
function chunkedBytes(total: number, chunkSize: number, seed: number): Buffer {
  const chunk = patternBytes(chunkSize, seed);
  const bytes = Buffer.alloc(total);
  for (let offset = 0; offset < total; offset += chunkSize) {
    bytes.set(chunk.subarray(0, Math.min(chunkSize, total - offset)), offset);
  }
  return bytes;
}

/** The bytes `gatedBody(head, total, seed)` yields, in one buffer. */
function gatedBytes(head: number, total: number, seed: number): Buffer {
  return Buffer.concat([
    chunkedBytes(head, 256 * 1024, seed),
    chunkedBytes(total - head, 256 * 1024, seed + 1),
  ]);
}

/**
 * Registers the fault suite for an `ObjectStorage` adapter: latency, connections reset in the
 * middle of a request or a response, a network gone silent (on an idle pooled connection, in the
 * middle of a download or an upload), an outage that ends, and replies lost after the server acted
 * (a put, a conditional put, the creation of a multipart upload, a part). Every case checks that
 * the call settles within the adapter's documented bounds with the right code, that the server
 * holds no duplicate or half-written effect and no multipart upload, and that the store serves
 * again by itself once the fault ends.
 */
export function objectStorageFaultContract(name: string, harness: ObjectStorageFaultHarness): void {
  const { callMs, putMs, idleMs, cleanupMs } = harness.deadlines;
  // A case waits out a few bounds in a row (the fault, the clean-up, the recovery).
  const timeout = 2 * (putMs + cleanupMs + callMs) + 4 * SLACK_MS;
  describe(`${name}: ObjectStorage under network faults`, { timeout }, () => {
    let proxy: FaultProxy;
    let store: ObjectStorage;
    let server: ObjectStorage;

    beforeEach(async () => {
      proxy = await FaultProxy.start({ target: harness.target() });
      store = await harness.create({ host: proxy.host, port: proxy.port });
      server = await harness.direct(store);
    });
    afterEach(async () => {
      await proxy.heal().catch(() => undefined);
      await server?.close();
      await harness.destroy(store);
      await proxy.close();
    });

    const recovers = (what: string) =>
      expectRecoversWithin(
        async () => {
          await store.put("recovered", what);
          expectBytes((await store.getBytes("recovered")).bytes, Buffer.from(what));
        },
        callMs + SLACK_MS,
        { what: `the store after ${what}` },
      );
    const noUploadsLeft = () =>
      waitFor(
        async () => (await harness.openUploads(store)).length === 0,
        cleanupMs + SLACK_MS,
        "removing every multipart upload",
      );

    it("succeeds within its deadlines under 100 ms of added latency each way", async () => {
      proxy.setLatency(100);
      const body = patternBytes(256 * 1024, 1);
      await expectSettlesWithin(store.put("slow", body), callMs + SLACK_MS, "a put");
      const read = await expectSettlesWithin(store.getBytes("slow"), callMs + SLACK_MS, "a get");
      expect(read.ok && Buffer.from(read.value.bytes).equals(Buffer.from(body))).toBe(true);
      const listed = await expectSettlesWithin(store.listPage(), callMs + SLACK_MS, "a list");
      expect(listed.ok && listed.value.items.map((item) => item.key)).toEqual(["slow"]);
    });

    it("fails a put reset while its body is sent with UNAVAILABLE, keeping the previous object", async () => {
      await server.put("cut", "previous");
      await proxy.set("cut-mid-request", { afterBytes: 64 * 1024 });
      await expectFailsWithin(store.put("cut", patternBytes(512 * 1024, 2)), putMs + SLACK_MS, "UNAVAILABLE");
      expect(Buffer.from((await server.getBytes("cut")).bytes).toString()).toBe("previous");
      expect(await harness.openUploads(store)).toEqual([]);
      await proxy.heal();
      await recovers("a reset mid-request");
    });

    it("fails a download reset in the middle of its body with a taxonomy UNAVAILABLE", async () => {
      const body = patternBytes(4 * MiB, 3);
      await server.put("cut-body", body);
      await proxy.set("cut-mid-response", { afterBytes: 256 * 1024 });
      await expectFailsWithin(
        async () => collectBytes((await store.get("cut-body")).body),
        callMs + SLACK_MS,
        "UNAVAILABLE",
        "a streamed get",
      );
      await proxy.set("cut-mid-response", { afterBytes: 256 * 1024 });
      await expectFailsWithin(store.getBytes("cut-body"), callMs + SLACK_MS, "UNAVAILABLE", "getBytes");
      await proxy.heal();
      await recovers("a reset mid-response");
      expectBytes((await store.getBytes("cut-body")).bytes, body);
    });

    it("fails calls on a silent idle pooled connection with TIMEOUT within the deadline, then serves again", async () => {
      await store.put("pooled", "warm");
      await store.head("pooled");
      await proxy.set("silent");
      await expectFailsWithin(store.head("pooled"), callMs + SLACK_MS, "TIMEOUT", "a head");
      await expectFailsWithin(store.put("pooled", "new"), putMs + SLACK_MS, "TIMEOUT", "a put");
      expect(Buffer.from((await server.getBytes("pooled")).bytes).toString()).toBe("warm");
      await proxy.heal();
      await recovers("a silent network");
      await store.close();
      await waitFor(async () => proxy.openConnections === 0, SLACK_MS, "closing every connection");
    });

    it("fails a download whose body stalls midway with TIMEOUT", async () => {
      const size = 48 * MiB;
      await server.put("stalled", Readable.from(patternChunks(size, MiB, 4)));
      const { body } = await store.get("stalled");
      const reader = body[Symbol.asyncIterator]();
      const first = await reader.next();
      await proxy.set("silent");
      let received = first.done ? 0 : (first.value as Buffer).byteLength;
      const error = await expectFailsWithin(
        async () => {
          for (let next = await reader.next(); !next.done; next = await reader.next()) {
            received += (next.value as Buffer).byteLength;
          }
        },
        idleMs + SLACK_MS,
        "TIMEOUT",
        "reading a stalled body",
      );
      expect(received, error.message).toBeLessThan(size);
      await proxy.heal();
      await recovers("a stalled download");
    });

    it("fails a multipart put that goes silent midway, and leaves no upload once the network is back", async () => {
      await server.put("silent-upload", "previous");
      const total = 3 * harness.partSize;
      const { body, release } = gatedBody(harness.partSize + 1, total, 5);
      const put = store.put("silent-upload", body);
      put.catch(() => undefined);
      await waitFor(
        async () => (await harness.openUploads(store)).includes("silent-upload"),
        callMs + SLACK_MS,
        "creating the multipart upload",
      );
      await proxy.set("silent");
      release();
      await expectFailsWithin(put, putMs + SLACK_MS, ["TIMEOUT", "UNAVAILABLE"], "the put");
      await proxy.heal();
      await noUploadsLeft();
      expect(Buffer.from((await server.getBytes("silent-upload")).bytes).toString()).toBe("previous");
      await recovers("a silent upload");
    });

    it("fails fast with UNAVAILABLE during an outage and serves again by itself when it ends", async () => {
      await store.put("outage", "before");
      await proxy.set("outage");
      await expectFailsWithin(store.head("outage"), callMs + SLACK_MS, "UNAVAILABLE", "a head");
      await expectFailsWithin(store.put("outage", "during"), putMs + SLACK_MS, "UNAVAILABLE", "a put");
      await proxy.heal();
      await recovers("an outage");
      expect(Buffer.from((await server.getBytes("outage")).bytes).toString()).toBe("before");
    });

    it("settles a put whose reply is lost within its bound, with the object stored once (PUT is idempotent)", async () => {
      await server.put("lost-reply", "v1");
      await proxy.set("lose-replies");
      const put = store.put("lost-reply", "v2");
      put.catch(() => undefined);
      await waitFor(
        async () => Buffer.from((await server.getBytes("lost-reply")).bytes).toString() === "v2",
        callMs + SLACK_MS,
        "the server storing the put",
      );
      await proxy.heal();
      const settled = await expectSettlesWithin(put, putMs + SLACK_MS, "the put");
      if (!settled.ok) {
        expect(["TIMEOUT", "UNAVAILABLE"]).toContain(settled.error.code);
        expect(settled.error.retryable || isOutcomeUnknown(settled.error)).toBe(true);
      }
      expect(Buffer.from((await server.getBytes("lost-reply")).bytes).toString()).toBe("v2");
      await recovers("a lost put reply");
    });

    it.skipIf(!harness.capabilities.conditionalPut)(
      "reports a conditional put whose reply is lost as outcome unknown, never CONFLICT",
      async () => {
        await proxy.set("lose-replies");
        const put = store.put("claimed", "mine", { ifNoneMatch: "*" });
        put.catch(() => undefined);
        await waitFor(() => server.exists("claimed"), callMs + SLACK_MS, "the server storing the put");
        await proxy.heal();
        const settled = await expectSettlesWithin(put, putMs + SLACK_MS, "the conditional put");
        if (!settled.ok) {
          expect(isOutcomeUnknown(settled.error), settled.error.message).toBe(true);
          expect(settled.error.retryable).toBe(false);
        }
        expect(Buffer.from((await server.getBytes("claimed")).bytes).toString()).toBe("mine");
        await recovers("a lost conditional put reply");
      },
    );

    it("leaves no orphaned multipart upload when the reply creating it is lost", async () => {
      const total = 2 * harness.partSize + 1;
      await proxy.set("lose-replies");
      const put = store.put("lost-create", Readable.from(patternChunks(total, 256 * 1024, 6)));
      put.catch(() => undefined);
      await waitFor(
        async () => (await harness.openUploads(store)).includes("lost-create"),
        callMs + SLACK_MS,
        "the server creating the multipart upload",
      );
      await proxy.heal();
      const settled = await expectSettlesWithin(put, putMs + SLACK_MS, "the put");
      await noUploadsLeft();
      if (settled.ok) {
        expectBytes((await server.getBytes("lost-create")).bytes, chunkedBytes(total, 256 * 1024, 6));
      } else {
        expect(["TIMEOUT", "UNAVAILABLE"]).toContain(settled.error.code);
        expect(settled.error.retryable).toBe(true);
        expect(await server.exists("lost-create")).toBe(false);
      }
      await recovers("a lost multipart create reply");
    });

    it("sends a part whose reply is lost again and stores the whole object once", async () => {
      const total = 3 * harness.partSize;
      const { body, release } = gatedBody(harness.partSize + 1, total, 7);
      const put = store.put("lost-part", body);
      put.catch(() => undefined);
      await waitFor(
        async () => (await harness.openUploads(store)).includes("lost-part"),
        callMs + SLACK_MS,
        "creating the multipart upload",
      );
      await proxy.set("lose-replies");
      release();
      await sleep(Math.min(idleMs / 2, 1_000));
      await proxy.heal();
      const settled = await expectSettlesWithin(put, putMs + SLACK_MS, "the put");
      await noUploadsLeft();
      if (settled.ok) {
        expectBytes((await server.getBytes("lost-part")).bytes, gatedBytes(harness.partSize + 1, total, 7));
      } else {
        expect(settled.error.retryable || isOutcomeUnknown(settled.error), settled.error.message).toBe(true);
      }
      await recovers("a lost part reply");
    });
  });
}
