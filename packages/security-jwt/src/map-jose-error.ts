import {
  cancelledError,
  InfrastructureError,
  isInfrastructureError,
  type TokenFailureReason,
  UnauthenticatedError,
} from "@proj/ports";

interface JoseErrorShape {
  code: string;
  claim?: unknown;
  reason?: unknown;
}

function joseShape(error: unknown): JoseErrorShape | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("ERR_J") ? (error as JoseErrorShape) : undefined;
}

/** A failed claim check, by claim: which reason and what to say (the value itself is never echoed). */
const CLAIM_CHECKS: Readonly<Record<string, readonly [TokenFailureReason, string]>> = {
  exp: ["expired", "the token has expired"],
  nbf: ["not_yet_valid", "the token is not valid yet"],
  iat: ["issued_in_future", "the token was issued in the future"],
  iss: ["wrong_issuer", "the token issuer is not trusted"],
  aud: ["wrong_audience", "the token is meant for another audience"],
  typ: ["wrong_type", 'the token "typ" header is not the expected type'],
};

function refusal(reason: TokenFailureReason, message: string, cause: unknown): UnauthenticatedError {
  return new UnauthenticatedError(reason, message, { cause });
}

/**
 * Classifies an error thrown while verifying a token. jose's messages are not reused: some of them
 * quote header values, and a caller needs a stable reason, not prose.
 */
export function mapJoseError(error: unknown): InfrastructureError {
  if (isInfrastructureError(error)) return error;
  const jose = joseShape(error);
  if (jose === undefined) {
    if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
      return cancelledError(AbortSignal.abort(error), "token decode");
    }
    // jose raises TypeError when a key cannot serve the token's algorithm (wrong curve, short modulus).
    if (error instanceof TypeError)
      return refusal("unknown_key", "no usable key for the token algorithm", error);
    return new InfrastructureError("INTERNAL", "token verification failed unexpectedly", { cause: error });
  }
  const claim = typeof jose.claim === "string" ? jose.claim : "";
  switch (jose.code) {
    case "ERR_JWT_EXPIRED":
      return claim === "iat"
        ? refusal("too_old", "the token is older than the allowed maximum age", error)
        : refusal("expired", "the token has expired", error);
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      if (jose.reason === "missing")
        return refusal("missing_claim", `the token has no "${claim}" claim`, error);
      if (jose.reason === "invalid")
        return refusal("invalid_claim", `the token "${claim}" claim is invalid`, error);
      const [reason, message] = CLAIM_CHECKS[claim] ?? [
        "invalid_claim",
        `the token "${claim}" claim is not accepted`,
      ];
      return refusal(reason, message, error);
    }
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return refusal("algorithm_not_allowed", "the token algorithm is not allowed", error);
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return refusal("bad_signature", "the token signature does not verify", error);
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return refusal("malformed", "the token is not a well-formed JWS compact JWT", error);
    case "ERR_JOSE_NOT_SUPPORTED":
      return refusal(
        "unsupported_header",
        "the token uses an unsupported algorithm or critical header",
        error,
      );
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return refusal("unknown_key", "no trusted key matches the token", error);
    case "ERR_JWE_DECRYPTION_FAILED":
    case "ERR_JWE_INVALID":
      return refusal("malformed", "encrypted tokens (JWE) are not accepted", error);
    default:
      return new InfrastructureError("INTERNAL", `token verification failed unexpectedly (${jose.code})`, {
        cause: error,
      });
  }
}
