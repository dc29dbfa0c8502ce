import { generateKeyPairSync, webcrypto } from "node:crypto";
import { UnauthenticatedError } from "@proj/ports";
import { importJWK, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import type { CryptoKey } from "../src/jwt-keys.js";
import { signatureCheckFor } from "../src/jwt-signature.js";

const hmacKey = (hash: string) =>
  webcrypto.subtle.importKey("raw", Buffer.alloc(64, 7), { name: "HMAC", hash }, false, ["verify"]);
const publicJwk = (type: "rsa" | "ec", extra: object) =>
  generateKeyPairSync(type as "rsa", extra as { modulusLength: number }).publicKey.export({
    format: "jwk",
  }) as JWK;

function refusedAs(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof UnauthenticatedError ? error.reason : `not a refusal: ${String(error)}`;
  }
  return undefined;
}

describe("signatureCheckFor", () => {
  it("refuses a key imported for another algorithm of the same family (unknown_key)", async () => {
    const hs256 = (await hmacKey("SHA-256")) as CryptoKey;
    expect(refusedAs(() => signatureCheckFor("HS512", hs256))).toBe("unknown_key");
    const rsa = publicJwk("rsa", { modulusLength: 2048 });
    const rs256 = (await importJWK(rsa, "RS256")) as CryptoKey;
    expect(refusedAs(() => signatureCheckFor("PS256", rs256))).toBe("unknown_key");
    expect(refusedAs(() => signatureCheckFor("RS384", rs256))).toBe("unknown_key");
  });

  it("refuses a public key asked to serve an HMAC algorithm, and a secret asked to serve RS256", async () => {
    const rsa = (await importJWK(publicJwk("rsa", { modulusLength: 2048 }), "RS256")) as CryptoKey;
    expect(refusedAs(() => signatureCheckFor("HS256", rsa))).toBe("unknown_key");
    const secret = (await hmacKey("SHA-256")) as CryptoKey;
    expect(refusedAs(() => signatureCheckFor("RS256", secret))).toBe("unknown_key");
  });

  it("refuses an ES256 key for ES384 (curve bound to the algorithm)", async () => {
    const p256 = (await importJWK(publicJwk("ec", { namedCurve: "P-256" }), "ES256")) as CryptoKey;
    expect(refusedAs(() => signatureCheckFor("ES384", p256))).toBe("unknown_key");
  });

  it("keeps serving the algorithm a key was first prepared for, and only that one", async () => {
    const key = (await hmacKey("SHA-256")) as CryptoKey;
    const check = signatureCheckFor("HS256", key);
    expect(signatureCheckFor("HS256", key)).toBe(check);
    expect(refusedAs(() => signatureCheckFor("HS384", key))).toBe("unknown_key");
    expect(check("a.b", Buffer.alloc(32))).toBe(false);
  });
});
