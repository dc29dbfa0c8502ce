import { generateKeyPairSync, KeyObject, sign, type webcrypto } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expectErrorCode, expectRefusal } from "@proj/contract-tests";
import { UnauthenticatedError } from "@proj/ports";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJwtTokenDecoder, type JwtTokenDecoderOptions } from "../src/index.js";
import { b64, hmacToken, joseIssuer, type KeyPair, keyPair, nowSeconds } from "./support.js";

const SECRET = "decoder-tests-shared-secret-of-48-bytes-length!!";
const hs = (payload: unknown, header: Record<string, unknown> = {}) =>
  hmacToken(SECRET, { alg: "HS256", ...header }, payload);
const claims = (extra: Record<string, unknown> = {}) => ({ sub: "u", exp: nowSeconds() + 600, ...extra });
const decoder = (options: Partial<JwtTokenDecoderOptions> = {}) =>
  createJwtTokenDecoder({ algorithms: ["HS256"], secret: SECRET, ...options } as JwtTokenDecoderOptions);

let rsa: KeyPair;
let ps: KeyPair;
let ed: KeyPair;
beforeAll(async () => {
  [rsa, ps, ed] = await Promise.all([keyPair("RS256", "r1"), keyPair("PS256"), keyPair("EdDSA")]);
});

describe("configuration", () => {
  it.each([
    ["no algorithms", { algorithms: [] }],
    ["alg none", { algorithms: ["none"] }],
    ["an unknown algorithm", { algorithms: ["HS1"] }],
    ["no key source", { algorithms: ["HS256"], secret: undefined }],
    ["a secret too short for HS256", { secret: "short" }],
    ["a 32-byte secret for HS512", { algorithms: ["HS512"], secret: "x".repeat(32) }],
    ["an algorithm no key covers", { algorithms: ["HS256", "RS256"] }],
    [
      "a public key that fits no allowed algorithm",
      { algorithms: ["ES256"], secret: undefined, publicKeys: ["pem"] },
    ],
    ["jwksUrl together with a secret", { algorithms: ["RS256"], jwksUrl: "https://id.example/jwks" }],
    [
      "jwksUrl over plain http to a remote host",
      { algorithms: ["RS256"], secret: undefined, jwksUrl: "http://id.example/jwks" },
    ],
    [
      "jwksUrl with an HS algorithm",
      { algorithms: ["HS256"], secret: undefined, jwksUrl: "https://id.example/jwks" },
    ],
    ["a negative clock tolerance", { clockToleranceSeconds: -1 }],
    ["a zero size limit", { maxTokenBytes: 0 }],
    ["a cache of zero entries", { cache: { maxEntries: 0 } }],
  ])("refuses %s with INVALID_ARGUMENT", (_name, options) => {
    expect(() => decoder(options as Partial<JwtTokenDecoderOptions>)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  it("refuses an RSA key shorter than 2048 bits and a private JWK, without echoing key material", () => {
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = weak.publicKey.export({ type: "spki", format: "pem" }) as string;
    expect(() => createJwtTokenDecoder({ algorithms: ["RS256"], publicKeys: [pem] })).toThrow(/fits none/);
    const privateJwk = weak.privateKey.export({ format: "jwk" }) as { kty: string; d: string };
    let message = "";
    try {
      createJwtTokenDecoder({ algorithms: ["RS256"], publicKeys: [privateJwk] });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("not a public key");
    expect(message).not.toContain(privateJwk.d.slice(0, 16));
  });

  it("accepts a private KeyObject by using its public half", async () => {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const verifier = createJwtTokenDecoder({ algorithms: ["ES256"], publicKeys: [pair.privateKey] });
    const token = await joseIssuer(pair.privateKey, "ES256").issue({ subject: "ko" });
    expect((await verifier.decode(token)).subject).toBe("ko");
  });
});

describe("algorithms and keys", () => {
  it("verifies HS384 and HS512 with a long enough secret", async () => {
    const verifier = decoder({ algorithms: ["HS256", "HS384", "HS512"], secret: "s".repeat(64) });
    for (const [alg, hash] of [
      ["HS384", "sha384"],
      ["HS512", "sha512"],
    ] as const) {
      const token = hmacToken("s".repeat(64), { alg }, claims({ sub: alg }), hash);
      expect((await verifier.decode(token)).subject).toBe(alg);
    }
  });

  it("verifies PS256 from a PEM and EdDSA from a JWK, each only with its own algorithm", async () => {
    const verifier = createJwtTokenDecoder({
      algorithms: ["PS256", "EdDSA"],
      publicKeys: [ps.publicPem, ed.publicJwk],
    });
    expect(
      (await verifier.decode(await joseIssuer(ps.privateKey, "PS256").issue({ subject: "ps" }))).subject,
    ).toBe("ps");
    expect(
      (await verifier.decode(await joseIssuer(ed.privateKey, "EdDSA").issue({ subject: "ed" }))).subject,
    ).toBe("ed");
    // Signed by the Ed25519 key but labelled PS256: only the RSA key is tried, and it does not verify.
    const input = `${b64({ alg: "PS256" })}.${b64(claims())}`;
    const edPrivate = KeyObject.from(ed.privateKey as webcrypto.CryptoKey);
    const swapped = `${input}.${sign(null, Buffer.from(input), edPrivate).toString("base64url")}`;
    await expectRefusal(verifier.decode(swapped), "bad_signature", swapped);
  });

  it("tries every kid-less key of the algorithm, so a rotated secret set accepts both generations", async () => {
    const older = "older-secret-that-is-32-bytes-long!!";
    const verifier = createJwtTokenDecoder({
      algorithms: ["HS256"],
      jwks: {
        keys: [
          { kty: "oct", k: Buffer.from(SECRET).toString("base64url") },
          { kty: "oct", k: Buffer.from(older).toString("base64url") },
        ],
      },
    });
    expect((await verifier.decode(hs(claims({ sub: "new" })))).subject).toBe("new");
    expect((await verifier.decode(hmacToken(older, { alg: "HS256" }, claims({ sub: "old" })))).subject).toBe(
      "old",
    );
  });

  it("selects by kid and ignores JWKS keys meant for other uses or algorithms", async () => {
    const verifier = createJwtTokenDecoder({
      algorithms: ["RS256"],
      jwks: {
        keys: [{ ...ed.publicJwk, kid: "ed" }, { ...rsa.publicJwk, kid: "enc", use: "enc" }, rsa.publicJwk],
      },
    });
    const issuer = joseIssuer(rsa.privateKey, "RS256", { kid: "r1" });
    expect((await verifier.decode(await issuer.issue({ subject: "kid" }))).subject).toBe("kid");
    const wrongKid = await joseIssuer(rsa.privateKey, "RS256", { kid: "enc" }).issue({ subject: "enc" });
    await expectRefusal(verifier.decode(wrongKid), "unknown_key");
  });
});

describe("claims", () => {
  it.each([
    ["exp", "1e400"],
    ["exp", "1e300"],
    ["exp", "253402300800"],
    ["nbf", "-1e400"],
    ["nbf", "-5"],
    ["iat", "-1e400"],
    ["iat", "-5"],
  ])("refuses %s = %s: a time claim must be a finite time from 1970 to 9999", async (name, literal) => {
    const now = nowSeconds();
    const times: Record<string, string> = {
      exp: String(now + 600),
      nbf: String(now - 60),
      iat: String(now - 60),
    };
    times[name] = literal;
    // Raw JSON text: JSON.stringify cannot write 1e400 (it would be Infinity, then null).
    const payload = `{"sub":"u","exp":${times.exp},"nbf":${times.nbf},"iat":${times.iat}}`;
    const token = hs(payload);
    const error = await expectRefusal(decoder().decode(token), "invalid_claim", token);
    expect(error.message).toContain(`"${name}"`);
  });

  it("applies the clock tolerance to exp, nbf and iat", async () => {
    const lenient = decoder({ clockToleranceSeconds: 30 });
    const now = nowSeconds();
    const token = hs({ sub: "skewed", exp: now - 10, nbf: now + 10, iat: now + 10 });
    expect((await lenient.decode(token)).subject).toBe("skewed");
    await expectRefusal(decoder().decode(token), ["expired", "not_yet_valid", "issued_in_future"]);
  });

  it("accepts tokens without exp only when requireExpiration is false, and then never caches them", async () => {
    const token = hs({ sub: "forever" });
    await expectRefusal(decoder().decode(token), "missing_claim");
    expect(
      (await decoder({ requireExpiration: false, cache: true }).decode(token)).expiresAt,
    ).toBeUndefined();
  });

  it("accepts any of several issuers and audiences", async () => {
    const verifier = decoder({ issuer: ["https://a.example", "https://b.example"], audience: ["x", "y"] });
    const token = hs(claims({ iss: "https://b.example", aud: ["z", "y"] }));
    expect((await verifier.decode(token)).issuer).toBe("https://b.example");
  });

  it("accepts a typ given as a full media type and a crit extension the caller understands", async () => {
    const verifier = decoder({ type: "at+jwt", understoodCriticalHeaders: ["exp-hint"] });
    const token = hs(claims(), { typ: "application/at+jwt", crit: ["exp-hint"], "exp-hint": 1 });
    expect((await verifier.decode(token)).subject).toBe("u");
  });

  it("maps tenant, roles and scopes from configured claims and nested paths", async () => {
    const verifier = decoder({
      claims: { tenantId: "https://example.com/tenant", roles: ["realm_access", "roles"], scopes: "scp" },
    });
    const token = hs(
      claims({
        "https://example.com/tenant": "t-9",
        realm_access: { roles: ["a", "b"] },
        scp: ["read", "write"],
      }),
    );
    const principal = await verifier.decode(token);
    expect(principal.tenantId).toBe("t-9");
    expect([...principal.roles]).toEqual(["a", "b"]);
    expect([...principal.scopes]).toEqual(["read", "write"]);
  });

  it("reads roles from a space-separated string and refuses a tenant that is not a string", async () => {
    expect([...(await decoder().decode(hs(claims({ roles: "a  b" })))).roles]).toEqual(["a", "b"]);
    await expectRefusal(decoder().decode(hs(claims({ tenant_id: 7 }))), "invalid_claim");
  });

  it("uses a custom mapper; its refusals pass through and its crashes are INTERNAL", async () => {
    const custom = decoder({
      mapPrincipal: (payload, header) => {
        if (payload.blocked === true) throw new UnauthenticatedError("invalid_claim", "blocked account");
        if (payload.crash === true) throw new Error("mapper bug");
        return {
          subject: `${String(header.alg)}:${String(payload.sub)}`,
          roles: ["mapped"],
          scopes: [],
          claims: payload,
        };
      },
    });
    const principal = await custom.decode(hs(claims()));
    expect(principal.subject).toBe("HS256:u");
    expect([...principal.roles]).toEqual(["mapped"]);
    await expectRefusal(custom.decode(hs(claims({ blocked: true }))), "invalid_claim");
    await expectErrorCode(custom.decode(hs(claims({ crash: true }))), "INTERNAL");
  });

  it("returns a deeply frozen principal", async () => {
    const principal = await decoder().decode(hs(claims({ roles: ["r"], nested: { list: [1] } })));
    expect(Object.isFrozen(principal)).toBe(true);
    expect(Object.isFrozen(principal.roles)).toBe(true);
    expect(Object.isFrozen((principal.claims.nested as { list: number[] }).list)).toBe(true);
  });

  it("verify returns the protected header alongside the principal", async () => {
    const verified = await decoder().verify(`Bearer ${hs(claims(), { kid: "k", typ: "JWT" })}`);
    expect(verified.protectedHeader).toEqual({ alg: "HS256", kid: "k", typ: "JWT" });
    expect(verified.principal.subject).toBe("u");
  });
});

describe("memory", () => {
  it("keeps no bearer token alive through the header cache: its keys are copies, not slices", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const tokenBytes = 1_000_000;
    const tokens = 24;
    const retaining = decoder({ maxTokenBytes: 2 * tokenBytes });
    const decodeLargeTokens = async () => {
      for (let index = 0; index < tokens; index++) {
        // A distinct header per token, so each one lands in the header cache; the payload makes it large.
        const header = b64({ alg: "HS256", kid: `k${index}` });
        const token = `Bearer ${header}.${b64({ sub: "u", pad: "x".repeat(tokenBytes - 200) })}.c2ln`;
        await expectRefusal(retaining.decode(token), "bad_signature");
      }
    };
    gc();
    const before = process.memoryUsage().heapUsed;
    await decodeLargeTokens();
    gc();
    const retained = process.memoryUsage().heapUsed - before;
    // Slices would keep 24 tokens of ~1.3 MB alive (over 30 MB); copies keep a few kilobytes of headers.
    expect(retained).toBeLessThan(8_000_000);
    await retaining.close();
  });
});

describe("verified-token cache", () => {
  let clock = Date.now();
  const cached = decoder({ cache: { maxEntries: 2, maxAgeMs: 60_000 }, now: () => new Date(clock) });
  afterAll(() => cached.close());

  it("serves a repeated token from the cache, never past its exp", async () => {
    clock = Date.now();
    const token = hs({ sub: "c", exp: Math.floor(clock / 1000) + 10 });
    const first = await cached.decode(token);
    expect(await cached.decode(`Bearer ${token}`)).toBe(first);
    clock += 11_000;
    await expectRefusal(cached.decode(token), "expired", token);
  });

  it("never serves a tampered token from the cache entry of the original", async () => {
    clock = Date.now();
    const token = hs(claims({ sub: "victim" }));
    await cached.decode(token);
    const [header, , signature] = token.split(".");
    const forged = `${header}.${Buffer.from(JSON.stringify(claims({ sub: "attacker" }))).toString("base64url")}.${signature}`;
    await expectRefusal(cached.decode(forged), "bad_signature", forged);
  });

  it("keeps at most maxEntries, evicting the least recently used", async () => {
    clock = Date.now();
    const [a, b, c] = ["a", "b", "c"].map((sub) => hs(claims({ sub })));
    const first = await cached.decode(a as string);
    await cached.decode(b as string);
    expect(await cached.decode(a as string)).toBe(first);
    await cached.decode(c as string);
    expect(await cached.decode(a as string)).toBe(first);
    const again = await cached.decode(b as string);
    expect(again.subject).toBe("b");
  });

  it("is emptied by close", async () => {
    const closing = decoder({ cache: true });
    const token = hs(claims());
    await closing.decode(token);
    await closing.close();
    await expectErrorCode(closing.decode(token), "CLOSED");
  });
});
