import { constants, createHmac, createSign, type KeyObject, sign } from "node:crypto";
import { expectRefusal } from "@proj/contract-tests";
import type { TokenDecoder, TokenFailureReason } from "@proj/ports";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJwtTokenDecoder } from "../src/index.js";
import { b64, hmacToken, JwksServer, type KeyPair, keyPair, nowSeconds } from "./support.js";

const SECRET = "attack-corpus-shared-secret-32-bytes-long!";
const ISS = "https://id.example";
const AUD = "orders-api";

interface Attack {
  name: string;
  decoder: "hmac" | "rsa" | "mixed" | "ec" | "remote" | "typed" | "critical";
  token: () => string | Promise<string>;
  reason: TokenFailureReason;
}

let rsa: KeyPair;
let attackerRsa: KeyPair;
let ec: KeyPair;
let attackerEc: KeyPair;
const trustedJwks = new JwksServer();
const attackerServer = new JwksServer();
const decoders = {} as Record<Attack["decoder"], TokenDecoder>;

const valid = () => ({ sub: "alice", iss: ISS, aud: AUD, iat: nowSeconds(), exp: nowSeconds() + 600 });
const hs = (header: unknown, payload: unknown) => hmacToken(SECRET, header, payload);
const rs = (header: Record<string, unknown>, payload: unknown, key = rsa) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createSign("RSA-SHA256")
    .update(input)
    .sign(key.privateKey as never, "base64url")}`;
};
const signedBy = (pair: KeyPair, header: Record<string, unknown>, payload = valid()) =>
  new SignJWT(payload).setProtectedHeader({ alg: pair.alg, ...header }).sign(pair.privateKey);
/** An ES256 token signed by `pair` over the exact bytes, its signature in the given encoding. */
const es = (
  pair: KeyPair,
  encoding: "der" | "ieee-p1363",
  header: Record<string, unknown> = { alg: "ES256" },
) => {
  const input = `${b64(header)}.${b64(valid())}`;
  const signature = sign("sha256", Buffer.from(input), {
    key: pair.privateKey as KeyObject,
    dsaEncoding: encoding,
  });
  return `${input}.${signature.toString("base64url")}`;
};
const CRITICAL_EXTENSION = "https://id.example/ext";
const swapSegment = (token: string, index: number, value: string) =>
  token
    .split(".")
    .map((segment, at) => (at === index ? value : segment))
    .join(".");

beforeAll(async () => {
  [rsa, attackerRsa, ec, attackerEc] = await Promise.all([
    keyPair("RS256", "rsa-1"),
    keyPair("RS256", "rsa-1"),
    keyPair("ES256", "ec-1"),
    keyPair("ES256", "ec-1"),
  ]);
  await Promise.all([trustedJwks.start(), attackerServer.start()]);
  trustedJwks.keys = [ec.publicJwk];
  attackerServer.keys = [attackerRsa.publicJwk, attackerEc.publicJwk];
  const common = { issuer: ISS, audience: AUD } as const;
  decoders.hmac = createJwtTokenDecoder({ algorithms: ["HS256"], secret: SECRET, ...common });
  decoders.rsa = createJwtTokenDecoder({ algorithms: ["RS256"], publicKeys: [rsa.publicPem], ...common });
  decoders.mixed = createJwtTokenDecoder({
    algorithms: ["HS256", "RS256"],
    jwks: { keys: [{ kty: "oct", kid: "hmac-1", k: b64(SECRET) }, rsa.publicJwk] },
    ...common,
  });
  decoders.ec = createJwtTokenDecoder({ algorithms: ["ES256"], publicKeys: [ec.publicJwk], ...common });
  decoders.remote = createJwtTokenDecoder({
    algorithms: ["ES256", "RS256"],
    jwksUrl: `${trustedJwks.url}/jwks`,
    remoteJwks: { cooldownMs: 0 },
    ...common,
  });
  decoders.typed = createJwtTokenDecoder({
    algorithms: ["HS256"],
    secret: SECRET,
    type: "at+jwt",
    maxTokenAgeSeconds: 300,
    ...common,
  });
  decoders.critical = createJwtTokenDecoder({
    algorithms: ["HS256"],
    secret: SECRET,
    understoodCriticalHeaders: [CRITICAL_EXTENSION],
    ...common,
  });
});

afterAll(async () => {
  await Promise.all(Object.values(decoders).map((decoder) => decoder.close()));
  await Promise.all([trustedJwks.stop(), attackerServer.stop()]);
});

const attacks: Attack[] = [
  // alg "none" in every casing, with and without a signature
  ...["none", "None", "NONE", "nOnE"].map(
    (alg): Attack => ({
      name: `alg ${alg} with an empty signature`,
      decoder: "hmac",
      token: () => `${b64({ alg, typ: "JWT" })}.${b64(valid())}.`,
      reason: "algorithm_not_allowed",
    }),
  ),
  {
    name: "alg none carrying a real HS256 signature",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 0, b64({ alg: "none" })),
    reason: "algorithm_not_allowed",
  },
  {
    name: "no alg header at all",
    decoder: "hmac",
    token: () => hs({ typ: "JWT" }, valid()),
    reason: "malformed",
  },
  // algorithm confusion: HMAC keyed with the RSA public key
  {
    name: "HS256 signed with the RSA public PEM, against an RS256-only decoder",
    decoder: "rsa",
    token: () => hmacToken(rsa.publicPem, { alg: "HS256", typ: "JWT" }, valid()),
    reason: "algorithm_not_allowed",
  },
  {
    name: "HS256 signed with the RSA public PEM naming the RSA kid, against HS256+RS256 keys",
    decoder: "mixed",
    token: () => hmacToken(rsa.publicPem, { alg: "HS256", kid: "rsa-1" }, valid()),
    reason: "unknown_key",
  },
  {
    name: "HS256 signed with the RSA public PEM without kid, against HS256+RS256 keys",
    decoder: "mixed",
    token: () => hmacToken(rsa.publicPem, { alg: "HS256" }, valid()),
    reason: "bad_signature",
  },
  {
    name: "HS256 signed with the RSA public JWK as text, against a remote JWKS",
    decoder: "remote",
    token: () => hmacToken(JSON.stringify(rsa.publicJwk), { alg: "HS256", kid: "rsa-1" }, valid()),
    reason: "algorithm_not_allowed",
  },
  {
    name: "header alg switched from HS256 to HS512",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 0, b64({ alg: "HS512" })),
    reason: "algorithm_not_allowed",
  },
  // signature stripping and tampering
  {
    name: "signature stripped, trailing dot kept",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 2, ""),
    reason: "bad_signature",
  },
  {
    name: "signature stripped with its dot",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, valid()).split(".").slice(0, 2).join("."),
    reason: "malformed",
  },
  {
    name: "signature truncated by one byte",
    decoder: "hmac",
    token: () => {
      const token = hs({ alg: "HS256" }, valid());
      const signature = Buffer.from(token.split(".")[2] ?? "", "base64url").subarray(0, 31);
      return swapSegment(token, 2, signature.toString("base64url"));
    },
    reason: "bad_signature",
  },
  {
    name: "payload tampered (sub and roles changed)",
    decoder: "hmac",
    token: () =>
      swapSegment(hs({ alg: "HS256" }, valid()), 1, b64({ ...valid(), sub: "root", roles: ["admin"] })),
    reason: "bad_signature",
  },
  {
    name: "header tampered (kid added)",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 0, b64({ alg: "HS256", kid: "other" })),
    reason: "bad_signature",
  },
  {
    name: "RS256 signed by another RSA key with the trusted kid",
    decoder: "rsa",
    token: () => rs({ alg: "RS256", kid: "rsa-1" }, valid(), attackerRsa),
    reason: "bad_signature",
  },
  {
    name: "ES256 psychic signature (r = s = 0, CVE-2022-21449)",
    decoder: "ec",
    token: () => `${b64({ alg: "ES256" })}.${b64(valid())}.${Buffer.alloc(64).toString("base64url")}`,
    reason: "bad_signature",
  },
  {
    name: "ES256 signature in DER instead of raw r||s, by the trusted key",
    decoder: "ec",
    token: () => es(ec, "der"),
    reason: "bad_signature",
  },
  {
    name: "ES256 raw signature with a byte appended",
    decoder: "ec",
    token: () => {
      const [header, payload, signature] = es(ec, "ieee-p1363").split(".");
      const longer = Buffer.concat([Buffer.from(signature ?? "", "base64url"), Buffer.alloc(1)]);
      return `${header}.${payload}.${longer.toString("base64url")}`;
    },
    reason: "bad_signature",
  },
  {
    name: "HS256 token whose signature is an HS512 tag over the same bytes",
    decoder: "hmac",
    token: () => hmacToken(SECRET, { alg: "HS256" }, valid(), "sha512"),
    reason: "bad_signature",
  },
  {
    name: "RS256 header over an RSA-PSS signature by the trusted key",
    decoder: "rsa",
    token: () => {
      const input = `${b64({ alg: "RS256", kid: "rsa-1" })}.${b64(valid())}`;
      const signature = sign("sha256", Buffer.from(input), {
        key: rsa.privateKey as KeyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
      return `${input}.${signature.toString("base64url")}`;
    },
    reason: "bad_signature",
  },
  // key headers that must never be followed or trusted
  {
    name: "jku header pointing at an attacker JWKS",
    decoder: "remote",
    token: () => signedBy(attackerEc, { kid: "ec-1", jku: `${attackerServer.url}/jwks` }),
    reason: "bad_signature",
  },
  {
    name: "x5u header pointing at an attacker certificate",
    decoder: "rsa",
    token: () => rs({ alg: "RS256", x5u: `${attackerServer.url}/cert.pem` }, valid(), attackerRsa),
    reason: "bad_signature",
  },
  {
    name: "jku header with an unknown kid on a static decoder",
    decoder: "ec",
    token: () => signedBy(attackerEc, { kid: "attacker", jku: `${attackerServer.url}/jwks` }),
    reason: "unknown_key",
  },
  {
    name: "embedded jwk header carrying the attacker's own key",
    decoder: "rsa",
    token: () => rs({ alg: "RS256", jwk: attackerRsa.publicJwk }, valid(), attackerRsa),
    reason: "bad_signature",
  },
  {
    name: "embedded jwk header against a remote JWKS",
    decoder: "remote",
    token: () => signedBy(attackerEc, { jwk: attackerEc.publicJwk }),
    reason: "bad_signature",
  },
  {
    name: "unknown kid",
    decoder: "mixed",
    token: () => hs({ alg: "HS256", kid: "nobody" }, valid()),
    reason: "unknown_key",
  },
  {
    name: "unknown kid against the remote JWKS",
    decoder: "remote",
    token: () => signedBy(attackerEc, { kid: "nobody" }),
    reason: "unknown_key",
  },
  {
    name: "kid that is not a string",
    decoder: "mixed",
    token: () => hs({ alg: "HS256", kid: 1 }, valid()),
    reason: "malformed",
  },
  // time claims
  {
    name: "expired",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, { ...valid(), exp: nowSeconds() - 1 }),
    reason: "expired",
  },
  {
    name: "not valid before a future nbf",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, { ...valid(), nbf: nowSeconds() + 120 }),
    reason: "not_yet_valid",
  },
  {
    name: "issued in the future",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, { ...valid(), iat: nowSeconds() + 120 }),
    reason: "issued_in_future",
  },
  {
    name: "older than maxTokenAge",
    decoder: "typed",
    token: () => hs({ alg: "HS256", typ: "at+jwt" }, { ...valid(), iat: nowSeconds() - 301 }),
    reason: "too_old",
  },
  {
    name: "missing exp",
    decoder: "hmac",
    token: () => {
      const { exp: _exp, ...claims } = valid();
      return hs({ alg: "HS256" }, claims);
    },
    reason: "missing_claim",
  },
  {
    name: "exp as a string",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, { ...valid(), exp: String(nowSeconds() + 600) }),
    reason: "invalid_claim",
  },
  // issuer, audience, type, subject
  {
    name: "wrong issuer",
    decoder: "rsa",
    token: () => rs({ alg: "RS256" }, { ...valid(), iss: "https://evil.example" }),
    reason: "wrong_issuer",
  },
  {
    name: "issuer missing",
    decoder: "rsa",
    token: () => {
      const { iss: _iss, ...claims } = valid();
      return rs({ alg: "RS256" }, claims);
    },
    reason: "missing_claim",
  },
  {
    name: "wrong audience",
    decoder: "rsa",
    token: () => rs({ alg: "RS256" }, { ...valid(), aud: ["billing-api", "other"] }),
    reason: "wrong_audience",
  },
  {
    name: "wrong typ where at+jwt is required",
    decoder: "typed",
    token: () => hs({ alg: "HS256", typ: "JWT" }, valid()),
    reason: "wrong_type",
  },
  {
    name: "missing sub",
    decoder: "hmac",
    token: () => {
      const { sub: _sub, ...claims } = valid();
      return hs({ alg: "HS256" }, claims);
    },
    reason: "missing_claim",
  },
  {
    name: "roles claim that is not a list of strings",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, { ...valid(), roles: { admin: true } }),
    reason: "invalid_claim",
  },
  // encoding and structure
  {
    name: "standard base64 characters (+ and /) in the payload",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 1, "eyJzdWIiOiJh+/9"),
    reason: "malformed",
  },
  {
    name: "base64 padding in the header",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 0, `${b64({ alg: "HS256" })}==`),
    reason: "malformed",
  },
  {
    name: "a segment whose length cannot come from whole bytes",
    decoder: "hmac",
    token: () => swapSegment(hs({ alg: "HS256" }, valid()), 2, "A".repeat(45)),
    reason: "malformed",
  },
  {
    name: "an extra fourth segment",
    decoder: "hmac",
    token: () => `${hs({ alg: "HS256" }, valid())}.${b64("extra")}`,
    reason: "malformed",
  },
  {
    name: "five segments (a JWE)",
    decoder: "hmac",
    token: () => `${b64({ alg: "dir", enc: "A256GCM" })}..${b64("iv")}.${b64("ciphertext")}.${b64("tag")}`,
    reason: "malformed",
  },
  {
    name: "header that is not a JSON object",
    decoder: "hmac",
    token: () => hs(["HS256"], valid()),
    reason: "malformed",
  },
  {
    name: "duplicate alg in the header",
    decoder: "hmac",
    token: () => hmacToken(SECRET, '{"alg":"none","alg":"HS256"}', valid()),
    reason: "malformed",
  },
  {
    name: "duplicate sub claim",
    decoder: "hmac",
    token: () =>
      hs(
        { alg: "HS256" },
        `{"sub":"alice","sub":"admin","exp":${nowSeconds() + 600},"iss":"${ISS}","aud":"${AUD}"}`,
      ),
    reason: "malformed",
  },
  {
    name: "duplicate sub claim hidden behind a unicode escape",
    decoder: "hmac",
    token: () =>
      hs(
        { alg: "HS256" },
        `{"sub":"alice","\\u0073ub":"admin","exp":${nowSeconds() + 600},"iss":"${ISS}","aud":"${AUD}"}`,
      ),
    reason: "malformed",
  },
  {
    name: "duplicate member inside a nested claim",
    decoder: "hmac",
    token: () =>
      hs(
        { alg: "HS256" },
        `{"sub":"alice","realm":{"roles":["user"],"roles":["admin"]},"exp":${nowSeconds() + 600},"iss":"${ISS}","aud":"${AUD}"}`,
      ),
    reason: "malformed",
  },
  {
    name: "payload that is not JSON",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, "sub=alice;admin=true"),
    reason: "malformed",
  },
  {
    name: "payload that is a JSON array",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, [valid()]),
    reason: "malformed",
  },
  {
    name: "payload that is a JSON string",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, JSON.stringify(JSON.stringify(valid()))),
    reason: "malformed",
  },
  {
    name: "payload that is invalid UTF-8",
    decoder: "hmac",
    token: () => {
      const input = `${b64({ alg: "HS256" })}.${Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64url")}`;
      return `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
    },
    reason: "malformed",
  },
  // headers that change the meaning of the bytes
  {
    name: "crit naming an extension nobody understands",
    decoder: "hmac",
    token: () =>
      hs({ alg: "HS256", crit: ["https://evil.example/ext"], "https://evil.example/ext": 1 }, valid()),
    reason: "unsupported_header",
  },
  {
    name: "crit that is not a list",
    decoder: "hmac",
    token: () => hs({ alg: "HS256", crit: "exp" }, valid()),
    reason: "malformed",
  },
  {
    name: "crit naming an understood extension the header lacks",
    decoder: "critical",
    token: () => hs({ alg: "HS256", crit: [CRITICAL_EXTENSION] }, valid()),
    reason: "malformed",
  },
  {
    name: "crit naming an understood extension twice",
    decoder: "critical",
    token: () =>
      hs({ alg: "HS256", crit: [CRITICAL_EXTENSION, CRITICAL_EXTENSION], [CRITICAL_EXTENSION]: 1 }, valid()),
    reason: "malformed",
  },
  {
    name: "header that is invalid UTF-8",
    decoder: "hmac",
    token: () => {
      const header = Buffer.concat([
        Buffer.from('{"alg":"HS256","x":"'),
        Buffer.from([0xff]),
        Buffer.from('"}'),
      ]);
      const input = `${header.toString("base64url")}.${b64(valid())}`;
      return `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
    },
    reason: "malformed",
  },
  {
    name: "b64 false (unencoded payload)",
    decoder: "hmac",
    token: () => hs({ alg: "HS256", b64: false, crit: ["b64"] }, valid()),
    reason: "unsupported_header",
  },
  {
    name: "zip header (compressed payload)",
    decoder: "hmac",
    token: () => hs({ alg: "HS256", zip: "DEF" }, valid()),
    reason: "unsupported_header",
  },
  // size and framing
  {
    name: "oversized token",
    decoder: "hmac",
    token: () => hs({ alg: "HS256" }, { ...valid(), padding: "x".repeat(10_000) }),
    reason: "too_large",
  },
  {
    name: "oversized Authorization header of spaces",
    decoder: "hmac",
    token: () => `Bearer ${" ".repeat(20_000)}x`,
    reason: "too_large",
  },
  {
    name: "a second value after the bearer token",
    decoder: "hmac",
    token: async () => `Bearer ${hs({ alg: "HS256" }, valid())} ${hs({ alg: "HS256" }, valid())}`,
    reason: "malformed",
  },
];

describe("attack corpus", () => {
  it("holds at least 30 crafted tokens", () => {
    expect(attacks.length).toBeGreaterThanOrEqual(30);
  });

  it("the corpus helpers make tokens the decoders accept", async () => {
    expect((await decoders.hmac.decode(hs({ alg: "HS256" }, valid()))).subject).toBe("alice");
    expect((await decoders.rsa.decode(rs({ alg: "RS256", kid: "rsa-1" }, valid()))).subject).toBe("alice");
    expect((await decoders.mixed.decode(hs({ alg: "HS256", kid: "hmac-1" }, valid()))).subject).toBe("alice");
    expect((await decoders.ec.decode(await signedBy(ec, { kid: "ec-1" }))).subject).toBe("alice");
    expect((await decoders.remote.decode(await signedBy(ec, { kid: "ec-1" }))).subject).toBe("alice");
    expect((await decoders.typed.decode(hs({ alg: "HS256", typ: "at+jwt" }, valid()))).subject).toBe("alice");
    expect((await decoders.ec.decode(es(ec, "ieee-p1363"))).subject).toBe("alice");
    const critical = { alg: "HS256", crit: [CRITICAL_EXTENSION], [CRITICAL_EXTENSION]: 1 };
    expect((await decoders.critical.decode(hs(critical, valid()))).subject).toBe("alice");
  });

  it.each(attacks)("refuses $name as $reason", async ({ decoder, token, reason }) => {
    const presented = await token();
    await expectRefusal(decoders[decoder].decode(presented), reason, presented);
  });

  it("never fetched a jku, x5u or embedded URL", () => {
    expect(attackerServer.requests).toBe(0);
    expect(trustedJwks.paths.every((path) => path === "/jwks")).toBe(true);
  });
});
