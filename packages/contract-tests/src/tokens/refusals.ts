import { isInfrastructureError, type TokenFailureReason, UnauthenticatedError } from "@proj/ports";
import { describe, expect, it } from "vitest";
import type { TokenDecoderSetup } from "./index.js";

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

export function refusalTests(setup: () => TokenDecoderSetup): void {
  describe("refusals", () => {
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
