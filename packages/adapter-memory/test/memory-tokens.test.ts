import { createHmac } from "node:crypto";
import { isInfrastructureError, type TokenFailureReason, UnauthenticatedError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import { createMemoryTokenAuthority } from "../src/index.js";

const SECRET = "memory-tokens-test-secret-of-32-bytes!";

function sign(header: Record<string, unknown>, payload: Record<string, unknown> | string): string {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(body).toString("base64url")}`;
  return `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
}

async function reasonOf(decoding: Promise<unknown>): Promise<TokenFailureReason> {
  const error = await decoding.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof UnauthenticatedError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error.reason;
}

const now = () => Math.floor(Date.now() / 1000);

describe("memory token authority", () => {
  const { issuer, decoder } = createMemoryTokenAuthority({ secret: SECRET });

  it("writes sub, tenant_id, roles, scope, iat and exp claims that another authority with the secret reads", async () => {
    const token = await issuer.issue({ subject: "u", tenantId: "t", roles: ["a"], scopes: ["s1", "s2"] });
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    expect(payload).toMatchObject({ sub: "u", tenant_id: "t", roles: ["a"], scope: "s1 s2" });
    expect(payload.exp - payload.iat).toBe(3600);
    const other = createMemoryTokenAuthority({ secret: Buffer.from(SECRET) }).decoder;
    expect((await other.decode(token)).tenantId).toBe("t");
  });

  it("never lets extra claims override the subject, tenant or expiry", async () => {
    const token = await issuer.issue({ subject: "real", extra: { sub: "fake", exp: 1, tenant_id: "x" } });
    const principal = await decoder.decode(token);
    expect(principal.subject).toBe("real");
    expect(principal.claims.exp).toBeGreaterThan(now());
  });

  it("accepts scopes given as an array claim", async () => {
    const token = sign({ alg: "HS256", typ: "JWT" }, { sub: "u", exp: now() + 60, scope: ["a", "b"] });
    expect([...(await decoder.decode(token)).scopes]).toEqual(["a", "b"]);
  });

  it("returns a frozen principal", async () => {
    const principal = await decoder.decode(await issuer.issue({ subject: "frozen", roles: ["r"] }));
    expect(Object.isFrozen(principal)).toBe(true);
    expect(Object.isFrozen(principal.roles)).toBe(true);
    expect(Object.isFrozen(principal.claims)).toBe(true);
  });

  it.each([
    ["alg none", { alg: "none" }, { sub: "u", exp: now() + 60 }, "algorithm_not_allowed"],
    ["alg NONE", { alg: "NONE" }, { sub: "u", exp: now() + 60 }, "algorithm_not_allowed"],
    ["alg HS512", { alg: "HS512" }, { sub: "u", exp: now() + 60 }, "algorithm_not_allowed"],
    ["no alg", { typ: "JWT" }, { sub: "u", exp: now() + 60 }, "algorithm_not_allowed"],
    [
      "crit header",
      { alg: "HS256", crit: ["exp"], exp: 1 },
      { sub: "u", exp: now() + 60 },
      "unsupported_header",
    ],
    ["b64 header", { alg: "HS256", b64: false }, { sub: "u", exp: now() + 60 }, "unsupported_header"],
    ["typ other", { alg: "HS256", typ: "at+jwt" }, { sub: "u", exp: now() + 60 }, "wrong_type"],
    ["missing exp", { alg: "HS256" }, { sub: "u" }, "missing_claim"],
    ["string exp", { alg: "HS256" }, { sub: "u", exp: String(now() + 60) }, "invalid_claim"],
    ["missing sub", { alg: "HS256" }, { exp: now() + 60 }, "missing_claim"],
    ["empty sub", { alg: "HS256" }, { sub: "", exp: now() + 60 }, "invalid_claim"],
    ["iat in future", { alg: "HS256" }, { sub: "u", exp: now() + 600, iat: now() + 300 }, "issued_in_future"],
    ["roles not strings", { alg: "HS256" }, { sub: "u", exp: now() + 60, roles: [1] }, "invalid_claim"],
    ["payload array", { alg: "HS256" }, "[1,2]", "malformed"],
    ["payload not JSON", { alg: "HS256" }, "sub=u", "malformed"],
  ] as const)("refuses a signed token with %s", async (_name, header, payload, reason) => {
    expect(await reasonOf(decoder.decode(sign(header, payload)))).toBe(reason);
  });

  it("follows the clock passed as now on both sides", async () => {
    let clock = new Date("2030-01-01T00:00:00Z");
    const authority = createMemoryTokenAuthority({ now: () => clock });
    const token = await authority.issuer.issue({ subject: "timed", expiresInSeconds: 60 });
    expect((await authority.decoder.decode(token)).issuedAt?.toISOString()).toBe("2030-01-01T00:00:00.000Z");
    clock = new Date("2030-01-01T00:01:00Z");
    expect(await reasonOf(authority.decoder.decode(token))).toBe("expired");
  });

  it("rejects a secret shorter than 32 bytes and a bad size limit as INVALID_ARGUMENT", () => {
    for (const build of [
      () => createMemoryTokenAuthority({ secret: "short" }),
      () => createMemoryTokenAuthority({ maxTokenBytes: 0 }),
    ]) {
      expect(build).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
  });

  it("refuses to issue a token without a subject", async () => {
    const error = await issuer.issue({ subject: "" }).catch((caught: unknown) => caught);
    expect(isInfrastructureError(error, "INVALID_ARGUMENT")).toBe(true);
  });
});
