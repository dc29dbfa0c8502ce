import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expectErrorCode, expectRefusal, sleep } from "@proj/contract-tests";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createJwtTokenDecoder, type JwtPublicJwk, type JwtTokenDecoder } from "../src/index.js";
import { JwksServer, joseIssuer, type KeyPair, keyPair } from "./support.js";

let first: KeyPair;
let second: KeyPair;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [first, second] = await Promise.all([keyPair("ES256", "key-2026-01"), keyPair("ES256", "key-2026-02")]);
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function serve(keys: KeyPair[]): Promise<JwksServer> {
  const server = await new JwksServer().start();
  server.keys = keys.map((pair) => pair.publicJwk);
  cleanup.push(() => server.stop());
  return server;
}

function decoderFor(
  server: JwksServer | string,
  remote: Parameters<typeof createJwtTokenDecoder>[0]["remoteJwks"],
) {
  const decoder = createJwtTokenDecoder({
    algorithms: ["ES256"],
    jwksUrl: typeof server === "string" ? server : `${server.url}/jwks`,
    remoteJwks: remote,
  });
  cleanup.push(() => decoder.close());
  return decoder;
}

const tokenOf = (pair: KeyPair, subject: string) =>
  joseIssuer(pair.privateKey, "ES256", { kid: pair.publicJwk.kid }).issue({ subject });

/** A listener that accepts connections and never answers. */
async function silentServer(): Promise<string> {
  const server: Server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
}

describe("remote JWKS rotation", () => {
  it("accepts the new key once published and refuses the old one once removed", async () => {
    const server = await serve([first]);
    const decoder = decoderFor(server, { cacheMaxAgeMs: 200, cooldownMs: 0 });
    const oldToken = await tokenOf(first, "old");
    expect((await decoder.decode(oldToken)).subject).toBe("old");
    expect(server.requests).toBe(1);

    // Published alongside the old key: an unknown kid triggers one refresh.
    server.keys = [first.publicJwk, second.publicJwk];
    const newToken = await tokenOf(second, "new");
    expect((await decoder.decode(newToken)).subject).toBe("new");
    expect(server.requests).toBe(2);
    expect((await decoder.decode(oldToken)).subject).toBe("old");

    // The old key is retired: once the cached set ages out, its tokens fail and new ones pass.
    server.keys = [second.publicJwk];
    await sleep(250);
    await expectRefusal(decoder.decode(oldToken), "unknown_key", oldToken);
    expect((await decoder.decode(newToken)).subject).toBe("new");
    expect((await decoder.decode(await tokenOf(second, "newer"))).subject).toBe("newer");
  });

  it("serves keys from its cache without a request per token", async () => {
    const server = await serve([first]);
    const decoder = decoderFor(server, {});
    for (let index = 0; index < 5; index++) {
      expect((await decoder.decode(await tokenOf(first, `user-${index}`))).subject).toBe(`user-${index}`);
    }
    expect(server.requests).toBe(1);
  });

  it("during the cooldown, an unknown kid fails without hammering the endpoint", async () => {
    const server = await serve([first]);
    const decoder = decoderFor(server, { cooldownMs: 60_000 });
    await decoder.decode(await tokenOf(first, "warm"));
    const stranger = await tokenOf(second, "stranger");
    for (let index = 0; index < 3; index++) await expectRefusal(decoder.decode(stranger), "unknown_key");
    expect(server.requests).toBe(1);
  });

  it("is UNAVAILABLE, never accepting, when the endpoint is down", async () => {
    const server = await serve([first]);
    const url = `${server.url}/jwks`;
    const token = await tokenOf(first, "down");
    await server.stop();
    const decoder = decoderFor(url, { timeoutMs: 2_000 });
    const error = await expectErrorCode(decoder.decode(token), "UNAVAILABLE");
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("127.0.0.1");
    expect(error.message).not.toContain(token);
  });

  it("turns UNAVAILABLE when the cached keys age out while the endpoint is down, and recovers after", async () => {
    const server = await serve([first]);
    const port = server.port;
    const decoder = decoderFor(server, { cacheMaxAgeMs: 100, cooldownMs: 0, backoffMs: 0 });
    const token = await tokenOf(first, "cached");
    expect((await decoder.decode(token)).subject).toBe("cached");
    await server.stop();
    await sleep(150);
    await expectErrorCode(decoder.decode(token), "UNAVAILABLE");

    const restarted = await new JwksServer().start(port);
    cleanup.push(() => restarted.stop());
    restarted.keys = [first.publicJwk];
    expect((await decoder.decode(token)).subject).toBe("cached");
  });

  it("is UNAVAILABLE when the endpoint does not answer within the timeout", async () => {
    const decoder = decoderFor(await silentServer(), { timeoutMs: 150 });
    const error = await expectErrorCode(decoder.decode(await tokenOf(first, "slow")), "UNAVAILABLE");
    expect(error.message).toContain("did not answer in time");
  });

  it("is UNAVAILABLE when the endpoint answers with an error status or a body that is no key set", async () => {
    const server = await serve([first]);
    const token = await tokenOf(first, "broken");
    await expectErrorCode(decoderFor(`${server.url}/missing`, {}).decode(token), "UNAVAILABLE");
    server.keys = "not a key set" as never;
    await expectErrorCode(decoderFor(server, {}).decode(token), "UNAVAILABLE");
  });

  it("stops waiting for the endpoint when the caller's signal fires", async () => {
    const decoder: JwtTokenDecoder = decoderFor(await silentServer(), { timeoutMs: 5_000 });
    const token = await tokenOf(first, "impatient");
    await expectErrorCode(decoder.decode(token, { signal: AbortSignal.timeout(100) }), "TIMEOUT");
    const controller = new AbortController();
    const pending = decoder.decode(token, { signal: controller.signal });
    controller.abort();
    await expectErrorCode(pending, "CANCELLED");
  });
});

/** The public JWK of an RSA key too short for RS256 (jose refuses to verify with it). */
function weakRsaJwk(kid?: string): JwtPublicJwk {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const jwk = publicKey.export({ format: "jwk" }) as JwtPublicJwk;
  return kid === undefined ? jwk : { ...jwk, kid };
}

describe("remote JWKS: unusable keys are skipped", () => {
  let rsa: KeyPair;
  beforeAll(async () => {
    rsa = await keyPair("RS256");
  });

  function rsaDecoder(server: JwksServer) {
    const decoder = createJwtTokenDecoder({ algorithms: ["RS256"], jwksUrl: `${server.url}/jwks` });
    cleanup.push(() => decoder.close());
    return decoder;
  }

  it("a 1024-bit RSA key listed first does not end the search: the later key verifies a kid-less token", async () => {
    const server = await serve([]);
    server.keys = [weakRsaJwk(), rsa.publicJwk];
    const token = await joseIssuer(rsa.privateKey, "RS256").issue({ subject: "later-key" });
    expect((await rsaDecoder(server).decode(token)).subject).toBe("later-key");
  });

  it("a repeated kid whose first key is unusable still finds the usable one", async () => {
    const server = await serve([]);
    server.keys = [weakRsaJwk("shared"), { ...rsa.publicJwk, kid: "shared" }];
    const token = await joseIssuer(rsa.privateKey, "RS256", { kid: "shared" }).issue({ subject: "same-kid" });
    expect((await rsaDecoder(server).decode(token)).subject).toBe("same-kid");
  });

  it("a key set with only unusable keys refuses with unknown_key", async () => {
    const server = await serve([]);
    server.keys = [weakRsaJwk()];
    const token = await joseIssuer(rsa.privateKey, "RS256").issue({ subject: "nobody" });
    await expectRefusal(rsaDecoder(server).decode(token), "unknown_key", token);
  });
});

describe("remote JWKS: a failing endpoint", () => {
  it("is asked again only after a back-off, not once per request, and is used again once it recovers", async () => {
    const server = await serve([first]);
    server.failWith = 503;
    const decoder = decoderFor(server, { backoffMs: 400, maxBackoffMs: 400 });
    const token = await tokenOf(first, "patient");
    for (let index = 0; index < 20; index++) {
      const error = await expectErrorCode(decoder.decode(token), "UNAVAILABLE");
      expect(error.message).toContain("127.0.0.1");
    }
    expect(server.requests).toBe(1);

    server.failWith = undefined;
    await sleep(500);
    expect((await decoder.decode(token)).subject).toBe("patient");
    expect(server.requests).toBe(2);
  });

  it("grows the back-off with consecutive failures", async () => {
    const server = await serve([first]);
    server.failWith = 500;
    const decoder = decoderFor(server, { backoffMs: 300, maxBackoffMs: 10_000 });
    const token = await tokenOf(first, "growing");
    await expectErrorCode(decoder.decode(token), "UNAVAILABLE");
    await sleep(400);
    await expectErrorCode(decoder.decode(token), "UNAVAILABLE");
    expect(server.requests).toBe(2);
    // The second back-off is at least 300 ms (half of 600 ms, with jitter): an immediate retry is not sent.
    await expectErrorCode(decoder.decode(token), "UNAVAILABLE");
    expect(server.requests).toBe(2);
  });

  it("refuses a key set answer larger than maxResponseBytes, with or without a content-length", async () => {
    const server = await serve([first]);
    server.paddingBytes = 2_000_000;
    const token = await tokenOf(first, "bloated");
    const capped = decoderFor(server, {});
    const error = await expectErrorCode(capped.decode(token), "UNAVAILABLE");
    expect(error.message).toContain("more than 262144 bytes");
    expect(error.details).toMatchObject({ failure: "too_large" });

    server.paddingBytes = 2_000;
    const small = decoderFor(server, { maxResponseBytes: 1_000 });
    await expectErrorCode(small.decode(token), "UNAVAILABLE");
    const roomy = decoderFor(server, { maxResponseBytes: 100_000 });
    expect((await roomy.decode(token)).subject).toBe("bloated");
  });
});
