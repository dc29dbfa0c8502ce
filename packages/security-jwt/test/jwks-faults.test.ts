import { expectFailsWithin, expectRecoversWithin, FaultProxy, sleep } from "@proj/contract-tests";
import { InfrastructureError } from "@proj/ports";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createJwtTokenDecoder, type RemoteJwksOptions } from "../src/index.js";
import { JwksServer, joseIssuer, type KeyPair, keyPair } from "./support.js";

/** Headroom on every bound: a loaded 2-core machine answers late, a hang never answers. */
const MARGIN_MS = 3_000;

let pair: KeyPair;
let token: string;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pair = await keyPair("ES256", "fault-key");
  token = await joseIssuer(pair.privateKey, "ES256", { kid: "fault-key" }).issue({
    subject: "through-faults",
  });
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A real JWKS endpoint on loopback, a fault proxy in front of it, and a decoder that fetches through the proxy. */
async function setup(remote: RemoteJwksOptions) {
  const server = await new JwksServer().start();
  server.keys = [pair.publicJwk];
  cleanup.push(() => server.stop());
  const proxy = await FaultProxy.start({ target: { host: "127.0.0.1", port: server.port } });
  cleanup.push(() => proxy.close());
  const decoder = createJwtTokenDecoder({
    algorithms: ["ES256"],
    jwksUrl: `http://${proxy.host}:${proxy.port}/jwks`,
    remoteJwks: remote,
  });
  cleanup.push(() => decoder.close());
  return { server, proxy, decoder };
}

describe("JWKS fetch under network faults", () => {
  it("a silent endpoint fails the decode UNAVAILABLE within the default 5 s timeout", async () => {
    const { proxy, decoder } = await setup({});
    await proxy.set("silent");
    const started = Date.now();
    const error = await expectFailsWithin(decoder.decode(token), 5_000 + MARGIN_MS, "UNAVAILABLE");
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect(error.details).toMatchObject({ failure: "timeout" });
    expect(error.retryable).toBe(true);
  });

  it("a kept-alive connection that went silent fails the refresh within timeoutMs, and the next fetch heals", async () => {
    const { server, proxy, decoder } = await setup({ cacheMaxAgeMs: 200, timeoutMs: 1_000, backoffMs: 300 });
    expect((await decoder.decode(token)).subject).toBe("through-faults");
    await proxy.set("silent");
    await sleep(250);
    const error = await expectFailsWithin(decoder.decode(token), 1_000 + MARGIN_MS, "UNAVAILABLE");
    expect(error.details).toMatchObject({ failure: "timeout" });
    await proxy.heal();
    await expectRecoversWithin(() => decoder.decode(token), 300 + 1_000 + MARGIN_MS);
    expect(server.requests).toBeGreaterThanOrEqual(2);
  });

  it("an answer that stalls after its headers fails the decode within timeoutMs", async () => {
    const { server, decoder } = await setup({ timeoutMs: 1_000 });
    server.stallAfterBytes = 20;
    const started = Date.now();
    const error = await expectFailsWithin(decoder.decode(token), 1_000 + MARGIN_MS, "UNAVAILABLE");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(error.details).toMatchObject({ failure: "timeout" });
    expect(server.requests).toBe(1);
  });

  it("close() ends a fetch that hangs on a silent endpoint at once, and lets go of its connection", async () => {
    const { proxy, decoder } = await setup({ timeoutMs: 30_000 });
    await proxy.set("silent");
    const pending = decoder.decode(token);
    await expectRecoversWithin(async () => {
      if (proxy.openConnections === 0) throw new InfrastructureError("UNAVAILABLE", "no fetch yet");
    }, MARGIN_MS);
    await decoder.close();
    await expectFailsWithin(pending, MARGIN_MS, "CLOSED", "a decode waiting for the key set at close()");
    // The aborted fetch's socket is destroyed; an idle one Node's fetch pool opened closes after its 4 s keep-alive.
    await expectRecoversWithin(async () => {
      if (proxy.openConnections > 0)
        throw new InfrastructureError("UNAVAILABLE", "the fetch's connection is open");
    }, 4_000 + MARGIN_MS);
  });

  for (const mode of ["cut-mid-response", "cut-mid-request"] as const) {
    it(`a connection reset ${mode === "cut-mid-response" ? "mid-response" : "mid-request"} fails UNAVAILABLE at once, never accepting`, async () => {
      const { proxy, decoder } = await setup({ timeoutMs: 5_000, backoffMs: 200 });
      await proxy.set(mode, { afterBytes: 40 });
      const started = Date.now();
      const error = await expectFailsWithin(decoder.decode(token), 5_000 + MARGIN_MS, "UNAVAILABLE");
      // A reset is seen as it happens, not after the timeout.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error.details).toMatchObject({ failure: "network" });
      await proxy.heal();
      await expectRecoversWithin(() => decoder.decode(token), 200 + 5_000 + MARGIN_MS);
    });
  }

  it("an outage that comes back: decodes fail at once between spaced fetches, and succeed again within the back-off", async () => {
    const backoffMs = 400;
    const maxBackoffMs = 800;
    const { server, proxy, decoder } = await setup({ timeoutMs: 1_000, backoffMs, maxBackoffMs });
    // Replies are lost, so each fetch reaches the server (which counts it) and times out.
    await proxy.set("lose-replies");
    const until = Date.now() + 4_000;
    let failures = 0;
    while (Date.now() < until) {
      await expectFailsWithin(decoder.decode(token), 1_000 + MARGIN_MS, "UNAVAILABLE");
      failures++;
      await sleep(20);
    }
    expect(failures).toBeGreaterThan(server.requests);
    // Between two fetches: at least the timeout plus half the back-off (equal jitter), never a busy loop.
    const gaps = server.requestTimes.slice(1).map((at, index) => at - (server.requestTimes[index] as number));
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    // (less a little for timer granularity: the timeout starts before the request arrives).
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1_000 + backoffMs / 2 - 100);
    expect(server.requests).toBeLessThanOrEqual(Math.ceil(4_000 / (1_000 + backoffMs / 2)) + 1);

    await proxy.set("outage");
    const before = server.requests;
    await expectFailsWithin(decoder.decode(token), 1_000 + MARGIN_MS, "UNAVAILABLE");
    await proxy.heal();
    const healedAt = Date.now();
    expect(
      (await expectRecoversWithin(() => decoder.decode(token), maxBackoffMs + 1_000 + MARGIN_MS)).subject,
    ).toBe("through-faults");
    expect(Date.now() - healedAt).toBeLessThanOrEqual(maxBackoffMs + 1_000 + MARGIN_MS);
    // One fetch brought the keys back; the decodes that failed meanwhile asked nothing of the server.
    expect(server.requests - before).toBeLessThanOrEqual(2);
  });
});
