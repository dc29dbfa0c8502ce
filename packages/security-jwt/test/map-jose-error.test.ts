import { InfrastructureError, UnauthenticatedError } from "@proj/ports";
import { errors } from "jose";
import { describe, expect, it } from "vitest";
import { mapJoseError } from "../src/map-jose-error.js";

const claims = { sub: "secret-subject-value" };
const claimFailure = (claim: string, reason: string) =>
  new errors.JWTClaimValidationFailed(`claim ${claim}`, claims, claim, reason);

describe("mapJoseError", () => {
  it.each([
    ["ERR_JWT_EXPIRED on exp", new errors.JWTExpired("x", claims, "exp", "check_failed"), "expired"],
    [
      "ERR_JWT_EXPIRED on iat (maxTokenAge)",
      new errors.JWTExpired("x", claims, "iat", "check_failed"),
      "too_old",
    ],
    ["nbf check failed", claimFailure("nbf", "check_failed"), "not_yet_valid"],
    ["iat check failed (future)", claimFailure("iat", "check_failed"), "issued_in_future"],
    ["iss check failed", claimFailure("iss", "check_failed"), "wrong_issuer"],
    ["aud check failed", claimFailure("aud", "check_failed"), "wrong_audience"],
    ["typ check failed", claimFailure("typ", "check_failed"), "wrong_type"],
    ["sub check failed", claimFailure("sub", "check_failed"), "invalid_claim"],
    ["claim missing", claimFailure("exp", "missing"), "missing_claim"],
    ["claim of the wrong type", claimFailure("nbf", "invalid"), "invalid_claim"],
    ["ERR_JOSE_ALG_NOT_ALLOWED", new errors.JOSEAlgNotAllowed("x"), "algorithm_not_allowed"],
    ["ERR_JWS_SIGNATURE_VERIFICATION_FAILED", new errors.JWSSignatureVerificationFailed(), "bad_signature"],
    ["ERR_JWS_INVALID", new errors.JWSInvalid("x"), "malformed"],
    ["ERR_JWT_INVALID", new errors.JWTInvalid("x"), "malformed"],
    ["ERR_JWE_INVALID", new errors.JWEInvalid("x"), "malformed"],
    ["ERR_JOSE_NOT_SUPPORTED (crit)", new errors.JOSENotSupported("x"), "unsupported_header"],
    ["ERR_JWKS_NO_MATCHING_KEY", new errors.JWKSNoMatchingKey(), "unknown_key"],
    ["ERR_JWKS_MULTIPLE_MATCHING_KEYS", new errors.JWKSMultipleMatchingKeys(), "unknown_key"],
    [
      "TypeError (key unfit for the algorithm)",
      new TypeError("CryptoKey does not support this operation"),
      "unknown_key",
    ],
  ])("maps %s to UNAUTHENTICATED %s", (_name, error, reason) => {
    const mapped = mapJoseError(error);
    expect(mapped).toBeInstanceOf(UnauthenticatedError);
    expect((mapped as UnauthenticatedError).reason).toBe(reason);
    expect(mapped.code).toBe("UNAUTHENTICATED");
    expect(mapped.cause).toBe(error);
    expect(mapped.message).not.toContain("secret-subject-value");
  });

  it.each([
    ["an unknown jose code", new errors.JOSEError("x"), "INTERNAL"],
    ["a plain Error", new Error("boom"), "INTERNAL"],
    ["an AbortError", new DOMException("aborted", "AbortError"), "CANCELLED"],
    ["a TimeoutError", new DOMException("timed out", "TimeoutError"), "TIMEOUT"],
  ])("maps %s to %s", (_name, error, code) => {
    expect(mapJoseError(error).code).toBe(code);
  });

  it("passes taxonomy errors through untouched", () => {
    const original = new InfrastructureError("UNAVAILABLE", "down");
    expect(mapJoseError(original)).toBe(original);
  });
});
