import type { Closeable, OperationOptions } from "./resources.js";

/** Who made a request, as proven by a verified token. */
export interface Principal {
  /** `sub`. */
  subject: string;
  /** The tenant the token was issued for, when the token names one. */
  tenantId?: string;
  roles: readonly string[];
  scopes: readonly string[];
  expiresAt?: Date;
  issuedAt?: Date;
  issuer?: string;
  /** Every claim of the verified payload. */
  claims: Readonly<Record<string, unknown>>;
}

/**
 * Verifies bearer tokens.
 *
 * Contract:
 * - `decode` accepts a token or an `Authorization` header value (`Bearer <token>`, scheme case
 *   insensitive) and returns the `Principal` of a token that is valid now: signature verified with
 *   an allowed algorithm and a trusted key, not expired, already valid, issuer and audience as
 *   configured.
 * - Every refusal is an `UnauthenticatedError` (`code` `UNAUTHENTICATED`) with a `reason`:
 *   `missing` (empty input), `malformed`, `too_large`, `algorithm_not_allowed`, `bad_signature`,
 *   `unknown_key`, `expired`, `not_yet_valid`, `issued_in_future`, `too_old`, `wrong_issuer`,
 *   `wrong_audience`, `wrong_type`, `missing_claim`, `invalid_claim`, `unsupported_header`.
 *   Messages never contain the token or key material.
 * - A key source that cannot be reached (remote JWKS down) is `UNAVAILABLE`, never an acceptance.
 */
export interface TokenDecoder extends Closeable {
  decode(tokenOrAuthorizationHeader: string, options?: OperationOptions): Promise<Principal>;
}

/**
 * Issues tokens, for tests and development setups whose decoder trusts the issuer's key.
 * Not part of request handling: production tokens come from an identity provider.
 */
export interface TokenIssuer {
  issue(claims: TokenClaims): Promise<string>;
}

export interface TokenClaims {
  subject: string;
  tenantId?: string;
  roles?: readonly string[];
  scopes?: readonly string[];
  /** Lifetime in seconds; default 3600. Negative gives an already expired token (for tests). */
  expiresInSeconds?: number;
  /** Seconds from now before which the token is not valid. */
  notBeforeInSeconds?: number;
  /** Extra claims. */
  extra?: Record<string, unknown>;
}
