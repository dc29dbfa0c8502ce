import { isInfrastructureError, type ObjectStorage } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { expectErrorCode, sleep } from "../harness.js";
import {
  allKeys,
  expectBytes,
  failingBody,
  type ObjectStorageHarness,
  patternBytes,
  type StorageGetter,
} from "./fixtures.js";

type Call = (storage: ObjectStorage, signal?: AbortSignal) => Promise<unknown>;

/** Every method, with arguments that would succeed on a storage holding `present`. */
const CALLS: ReadonlyArray<[string, Call]> = [
  ["put", (s, signal) => s.put("new", "x", { signal })],
  ["get", (s, signal) => s.get("present", { signal })],
  ["getBytes", (s, signal) => s.getBytes("present", { signal })],
  ["head", (s, signal) => s.head("present", { signal })],
  ["exists", (s, signal) => s.exists("present", { signal })],
  ["delete", (s, signal) => s.delete("present", { signal })],
  ["deleteMany", (s, signal) => s.deleteMany(["present"], { signal })],
  ["listPage", (s, signal) => s.listPage({ signal })],
  [
    "list",
    async (s, signal) => {
      for await (const _ of s.list({ signal })) {
        // Draining is the call.
      }
    },
  ],
  ["copy", (s, signal) => s.copy("present", "copied", { signal })],
];

async function expectRejection(action: Promise<unknown>): Promise<unknown> {
  try {
    await action;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to reject, but it resolved");
}

/** A body that yields a chunk every few milliseconds for long enough to be cancelled midway. */
async function* slowBody(onFirstChunk: () => void): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < 400; i++) {
    yield patternBytes(16 * 1024, i);
    if (i === 0) onFirstChunk();
    await sleep(20);
  }
}

export function failureTests(storage: StorageGetter, harness: ObjectStorageHarness): void {
  describe("failed and cancelled puts", () => {
    it("leaves no object when the body fails midway", async () => {
      const error = await expectRejection(storage().put("broken", failingBody(20)));
      expect(isInfrastructureError(error), String(error)).toBe(true);
      expect(await storage().exists("broken")).toBe(false);
      expect(await allKeys(storage())).toEqual([]);
    });

    it("keeps the previous object, metadata included, when a replacing body fails midway", async () => {
      const previous = patternBytes(5000, 51);
      const put = await storage().put("kept", previous, { contentType: "text/csv", metadata: { v: "1" } });
      await expectRejection(storage().put("kept", failingBody(20), { metadata: { v: "2" } }));
      const { bytes, info } = await storage().getBytes("kept");
      expectBytes(bytes, previous);
      expect(info.etag).toBe(put.etag);
      expect(info.contentType).toBe("text/csv");
      expect(info.metadata).toEqual({ v: "1" });
      expect(await allKeys(storage())).toEqual(["kept"]);
    });

    it("rejects with CANCELLED when the signal fires during the upload, and keeps the previous object", async () => {
      await storage().put("cancelled", "previous");
      const controller = new AbortController();
      const started = Date.now();
      const body = slowBody(() => controller.abort());
      await expectErrorCode(storage().put("cancelled", body, { signal: controller.signal }), "CANCELLED");
      // The slow body would take about 8 s to finish; a cancelled put must not wait for it.
      expect(Date.now() - started).toBeLessThan(6000);
      expect(Buffer.from((await storage().getBytes("cancelled")).bytes).toString()).toBe("previous");
      expect(await allKeys(storage())).toEqual(["cancelled"]);
    });

    it("leaves no object when a put of a new key is cancelled", async () => {
      const controller = new AbortController();
      const body = slowBody(() => controller.abort());
      await expectErrorCode(storage().put("never", body, { signal: controller.signal }), "CANCELLED");
      expect(await storage().exists("never")).toBe(false);
    });
  });

  describe("cancellation", () => {
    for (const [name, call] of CALLS) {
      it(`rejects ${name} with CANCELLED for an already aborted signal`, async () => {
        await storage().put("present", "x");
        await expectErrorCode(call(storage(), AbortSignal.abort()), "CANCELLED");
        expect(await allKeys(storage())).toEqual(["present"]);
      });
    }

    it("rejects with TIMEOUT when the signal came from AbortSignal.timeout", async () => {
      await storage().put("present", "x");
      const signal = AbortSignal.timeout(1);
      // Waits for the signal itself: a fixed sleep may end first when the event loop lags (Node can
      // run a late timer list before an earlier-due timer created after it).
      if (!signal.aborted)
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      await expectErrorCode(storage().head("present", { signal }), "TIMEOUT");
    });
  });

  describe("capabilities and lifecycle", () => {
    it("declares the capabilities the harness expects", () => {
      expect(storage().capabilities).toEqual(harness.capabilities);
    });

    it("closes idempotently", async () => {
      await storage().close();
      await storage().close();
      await expectErrorCode(storage().head("x"), "CLOSED");
    });

    for (const [name, call] of CALLS) {
      it(`rejects ${name} with CLOSED after close`, async () => {
        await storage().put("present", "x");
        await storage().close();
        await expectErrorCode(call(storage()), "CLOSED");
      });
    }

    it("rejects signedUrl with CLOSED after close", async () => {
      await storage().close();
      await expectErrorCode(storage().signedUrl("x", { method: "GET", expiresInSeconds: 60 }), "CLOSED");
    });

    it("closes through Symbol.asyncDispose", async () => {
      await storage()[Symbol.asyncDispose]();
      await expectErrorCode(storage().exists("x"), "CLOSED");
    });
  });
}
