import { isInfrastructureError, type TokenFailureReason, UnauthenticatedError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import type { TokenDecoderCapabilities, TokenDecoderSetup } from "./index.js";

/**
 * Asserts that decoding `input` is refused as UNAUTHENTICATED for one of `reasons`, and that neither
 * the message nor the details echo the token or any of its segments.
 */
export async function expectRefusal(
  decoding: Promise<unknown>,
  reasons: TokenFailureReason | readonly TokenFailureReason[],
  input = "",
): Promise<UnauthenticatedError> {
  let caught: unknown;
  try {
    await decoding;
  } catch (error) {
    caught = error;
  }
  expect(caught, "the token was accepted").toBeDefined();
  if (!isInfrastructureError(caught, "UNAUTHENTICATED")) {
    throw new Error(`expected an UNAUTHENTICATED error, got: ${String(caught)}`, { cause: caught });
  }
  expect(caught).toBeInstanceOf(UnauthenticatedError);
  const error = caught as UnauthenticatedError;
  const allowed = typeof reasons === "string" ? [reasons] : reasons;
  expect(allowed, `reason ${error.reason}: ${error.message}`).toContain(error.reason);
  expect(error.details.reason).toBe(error.reason);
  expect(error.retryable).toBe(false);
  const visible = `${error.message} ${JSON.stringify(error.details)}`;
  for (const piece of [input.trim(), ...input.trim().split(/[.\s]/)]) {
    if (piece.length >= 12) expect(visible.includes(piece), "the error echoes the token").toBe(false);
  }
  return error;
}

function reencode(segment: string, change: (value: Record<string, unknown>) => void): string {
  const value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8")) as Record<string, unknown>;
  change(value);
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/**
 * Where the suite exercises each refusal reason of the port. Typed over every reason, so a reason
 * added to the port does not compile here until a test holds decoders to it.
 */
export const REFUSAL_REASON_TESTS: Readonly<Record<TokenFailureReason, string>> = {
  missing: "refuses empty input, blank input and a bare Bearer scheme as missing",
  malformed: "refuses structurally broken input as malformed",
  too_large: "refuses a token over the size limit as too_large",
  algorithm_not_allowed: 'refuses alg "none" (unsigned, or with a signature) as algorithm_not_allowed',
  bad_signature: "refuses a token whose payload was changed after signing as bad_signature",
  unknown_key: "refuses a token naming a key id the decoder does not know as unknown_key",
  expired: "refuses an expired token as expired",
  not_yet_valid: "refuses a token whose validity starts in the future as not_yet_valid",
  issued_in_future: "refuses a token issued in the future as issued_in_future",
  too_old: "refuses a token older than the maximum age as too_old",
  wrong_issuer: "refuses a token from another issuer as wrong_issuer",
  wrong_audience: "refuses a token for another audience as wrong_audience",
  wrong_type: "refuses a token of another typ as wrong_type",
  missing_claim: 'refuses a signed token without "sub" as missing_claim',
  invalid_claim: "refuses a signed token whose claims have the wrong types as invalid_claim",
  unsupported_header:
    "refuses a signed token with a crit header it does not understand as unsupported_header",
};

function needs<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the harness declares the capability but provides no ${what}`);
  return value;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Refusals of tokens only a raw signer can make: claims and headers a `TokenIssuer` never writes. */
function signedRefusalTests(setup: () => TokenDecoderSetup, capabilities: TokenDecoderCapabilities): void {
  const raw = !capabilities.signsRawTokens;
  const sign = (claims: Record<string, unknown>, header?: Record<string, unknown>) => {
    const current = setup();
    return needs(current.signRaw, "signRaw").call(current, claims, header);
  };

  it.skipIf(raw)(
    "accepts a raw-signed token with ordinary claims, reporting its iat and exp (the signer is trusted)",
    async () => {
      const issuedAt = nowSeconds() - 5;
      const token = await sign({ sub: "raw", iat: issuedAt, exp: issuedAt + 600 });
      const principal = await setup().decoder.decode(token);
      expect(principal.subject).toBe("raw");
      expect(principal.issuedAt?.getTime()).toBe(issuedAt * 1000);
      expect(principal.expiresAt?.getTime()).toBe((issuedAt + 600) * 1000);
    },
  );

  it.skipIf(raw)(REFUSAL_REASON_TESTS.issued_in_future, async () => {
    const token = await sign({ sub: "future", iat: nowSeconds() + 600, exp: nowSeconds() + 1200 });
    await expectRefusal(setup().decoder.decode(token), "issued_in_future", token);
  });

  it.skipIf(raw)(REFUSAL_REASON_TESTS.missing_claim, async () => {
    const token = await sign({ iat: nowSeconds(), exp: nowSeconds() + 600, tenant_id: "t" });
    await expectRefusal(setup().decoder.decode(token), "missing_claim", token);
  });

  it.skipIf(raw)(REFUSAL_REASON_TESTS.invalid_claim, async () => {
    const now = nowSeconds();
    for (const claims of [
      { sub: 42, iat: now, exp: now + 600 },
      { sub: "", iat: now, exp: now + 600 },
      { sub: "typed", iat: now, exp: "in ten minutes" },
      { sub: "typed", iat: now, exp: now + 600, nbf: "now" },
    ]) {
      const token = await sign(claims);
      await expectRefusal(setup().decoder.decode(token), "invalid_claim", token);
    }
  });

  it.skipIf(raw)(REFUSAL_REASON_TESTS.unsupported_header, async () => {
    const token = await sign(
      { sub: "crit", iat: nowSeconds(), exp: nowSeconds() + 600 },
      { crit: ["urn:example:not-understood"], "urn:example:not-understood": true },
    );
    await expectRefusal(setup().decoder.decode(token), "unsupported_header", token);
  });

  it.skipIf(raw || !capabilities.checksType)(REFUSAL_REASON_TESTS.wrong_type, async () => {
    const token = await sign(
      { sub: "typed", iat: nowSeconds(), exp: nowSeconds() + 600 },
      { typ: "unexpected+jwt" },
    );
    await expectRefusal(setup().decoder.decode(token), "wrong_type", token);
  });

  it.skipIf(raw || !capabilities.maxTokenAge)(REFUSAL_REASON_TESTS.too_old, async () => {
    const maxAge = needs(setup().maxTokenAgeSeconds, "maxTokenAgeSeconds");
    const issuedAt = nowSeconds() - maxAge - 120;
    const token = await sign({ sub: "old", iat: issuedAt, exp: nowSeconds() + 600 });
    await expectRefusal(setup().decoder.decode(token), "too_old", token);
    const fresh = await sign({ sub: "young", iat: nowSeconds() - 1, exp: nowSeconds() + 600 });
    expect((await setup().decoder.decode(fresh)).subject).toBe("young");
  });

  it.skipIf(raw || !capabilities.keyIds)(REFUSAL_REASON_TESTS.unknown_key, async () => {
    const token = await sign(
      { sub: "stranger", iat: nowSeconds(), exp: nowSeconds() + 600 },
      { kid: `no-such-key-${Math.random().toString(36).slice(2)}` },
    );
    await expectRefusal(setup().decoder.decode(token), "unknown_key", token);
  });
}

export function refusalTests(
  setup: () => TokenDecoderSetup,
  capabilities: TokenDecoderCapabilities = {},
): void {
  describe("refusals", () => {
    it(REFUSAL_REASON_TESTS.algorithm_not_allowed, async () => {
      const token = await setup().issuer.issue({ subject: "unsigned", roles: ["admin"] });
      const [, payload = "", signature = ""] = token.split(".");
      for (const alg of ["none", "None", "NONE", "nOnE"]) {
        const header = Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url");
        const signed = `${header}.${payload}.${signature}`;
        await expectRefusal(setup().decoder.decode(signed), "algorithm_not_allowed", signed);
        // Without a signature some decoders see the missing segment first: still refused.
        const unsigned = `${header}.${payload}.`;
        await expectRefusal(
          setup().decoder.decode(unsigned),
          ["algorithm_not_allowed", "malformed"],
          unsigned,
        );
      }
    });

    signedRefusalTests(setup, capabilities);

    it("refuses empty input, blank input and a bare Bearer scheme as missing", async () => {
      for (const input of ["", "   ", "Bearer", "Bearer   ", "bearer \t"]) {
        await expectRefusal(setup().decoder.decode(input), "missing", input);
      }
    });

    it("refuses an expired token as expired", async () => {
      const token = await setup().issuer.issue({ subject: "late", expiresInSeconds: -120 });
      await expectRefusal(setup().decoder.decode(token), "expired", token);
    });

    it("refuses a token whose validity starts in the future as not_yet_valid", async () => {
      const token = await setup().issuer.issue({ subject: "early", notBeforeInSeconds: 300 });
      await expectRefusal(setup().decoder.decode(token), "not_yet_valid", token);
    });

    it("refuses a token whose payload was changed after signing as bad_signature", async () => {
      const token = await setup().issuer.issue({ subject: "user", roles: ["reader"] });
      const [header = "", payload = "", signature = ""] = token.split(".");
      const forged = `${header}.${reencode(payload, (claims) => {
        claims.roles = ["admin"];
        claims.sub = "someone-else";
      })}.${signature}`;
      await expectRefusal(setup().decoder.decode(forged), "bad_signature", forged);
      await expectRefusal(setup().decoder.decode(`Bearer ${forged}`), "bad_signature", forged);
    });

    it("refuses a token whose header was changed after signing as bad_signature", async () => {
      const token = await setup().issuer.issue({ subject: "user" });
      const [header = "", payload = "", signature = ""] = token.split(".");
      const forged = `${reencode(header, (value) => {
        value.note = "added later";
      })}.${payload}.${signature}`;
      await expectRefusal(setup().decoder.decode(forged), "bad_signature", forged);
    });

    it("refuses a token with its signature swapped for another token's", async () => {
      const token = await setup().issuer.issue({ subject: "one" });
      const other = await setup().issuer.issue({ subject: "two" });
      const forged = `${token.split(".").slice(0, 2).join(".")}.${other.split(".")[2]}`;
      await expectRefusal(setup().decoder.decode(forged), "bad_signature", forged);
    });

    it("refuses a well-formed token signed with a key it does not trust", async () => {
      const token = await setup().untrustedIssuer.issue({ subject: "intruder", roles: ["admin"] });
      await expectRefusal(setup().decoder.decode(token), ["bad_signature", "unknown_key"], token);
    });

    it("refuses structurally broken input as malformed", async () => {
      const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const signature = "c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
      for (const input of [
        "not-a-token",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Bearer two tokens",
        "abc.def",
        "a.b.c.d",
        `${json({ alg: "HS256" })}.${json({ sub: "x" })}`,
        `${json({ alg: "HS256" })}.${json({ sub: "x" })}.${signature}.extra`,
        `!!!.${json({ sub: "x" })}.${signature}`,
        `${json({ alg: "HS256" })}.%%%.${signature}`,
        `${Buffer.from("not json").toString("base64url")}.${json({ sub: "x" })}.${signature}`,
        `${json([1, 2])}.${json({ sub: "x" })}.${signature}`,
        `.${json({ sub: "x" })}.${signature}`,
        `${json({ alg: "HS256" })}..${signature}`,
      ]) {
        await expectRefusal(setup().decoder.decode(input), "malformed", input);
      }
    });

    it("refuses a token over the size limit as too_large", async () => {
      const { issuer, decoder, maxTokenBytes } = setup();
      const token = await issuer.issue({ subject: "big", extra: { padding: "x".repeat(maxTokenBytes) } });
      expect(token.length).toBeGreaterThan(maxTokenBytes);
      await expectRefusal(decoder.decode(token), "too_large", token);
      await expectRefusal(decoder.decode(`Bearer ${token}`), "too_large", token);
      await expectRefusal(decoder.decode("a".repeat(maxTokenBytes * 4)), "too_large");
    });

    it("accepts a token just under the size limit", async () => {
      const { issuer, decoder, maxTokenBytes } = setup();
      const probe = await issuer.issue({ subject: "fits", extra: { padding: "" } });
      // Base64url grows 4 characters per 3 bytes; leave room for a key id or claims the issuer adds.
      const room = Math.floor(((maxTokenBytes - probe.length) * 3) / 4) - 8;
      const token = await issuer.issue({ subject: "fits", extra: { padding: "y".repeat(room) } });
      expect(token.length).toBeLessThanOrEqual(maxTokenBytes);
      expect((await decoder.decode(token)).subject).toBe("fits");
    });

    it("refusals are UnauthenticatedErrors that are not retryable and never echo the token", async () => {
      const token = await setup().issuer.issue({ subject: "secretive", expiresInSeconds: -5 });
      const error = await expectRefusal(setup().decoder.decode(`Bearer ${token}`), "expired", token);
      expect(error.code).toBe("UNAUTHENTICATED");
      expect(error.message).not.toContain(token.split(".")[2]);
    });
  });
}
