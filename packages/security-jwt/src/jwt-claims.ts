import { refuse } from "./jwt-token-text.js";

/** The claim rules of a decoder, fixed when it is built. Semantics follow RFC 7519 §4.1 as jose reads it. */
export interface ClaimRules {
  issuers: readonly string[] | undefined;
  audiences: readonly string[] | undefined;
  /** Normalised media type (`application/jwt`), or undefined when `typ` is not checked. */
  type: string | undefined;
  /** Claims that must be present, in the order a missing one is reported. */
  required: readonly string[];
  maxTokenAgeSeconds: number | undefined;
  toleranceSeconds: number;
}

const TIME_CLAIMS = ["exp", "nbf", "iat"] as const;
/** 9999-12-31T23:59:59Z: a time claim beyond it (or Infinity, which `1e400` parses to) is no time. */
const MAX_EPOCH_SECONDS = 253_402_300_799;

/** `typ` is a media type whose `application/` prefix may be left out (RFC 7515 §4.1.9), compared case-insensitively. */
export function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase();
  return value.includes("/") ? lower : `application/${lower}`;
}

export function claimRules(options: {
  issuer?: string | readonly string[] | undefined;
  audience?: string | readonly string[] | undefined;
  type?: string | undefined;
  requireExpiration?: boolean | undefined;
  maxTokenAgeSeconds: number | undefined;
  toleranceSeconds: number;
}): ClaimRules {
  const required: string[] = [];
  if (options.issuer !== undefined) required.push("iss");
  if (options.audience !== undefined) required.push("aud");
  if (options.maxTokenAgeSeconds !== undefined) required.push("iat");
  if (options.requireExpiration !== false) required.push("exp");
  return {
    issuers: options.issuer === undefined ? undefined : [options.issuer].flat(),
    audiences: options.audience === undefined ? undefined : [options.audience].flat(),
    type: options.type === undefined ? undefined : normalizeMediaType(options.type),
    required,
    maxTokenAgeSeconds: options.maxTokenAgeSeconds,
    toleranceSeconds: options.toleranceSeconds,
  };
}

function timeClaim(claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number") refuse("invalid_claim", `the token "${name}" claim is invalid`);
  return value;
}

/**
 * Checks the claims of a token whose signature has verified, refusing with the reason a caller acts on.
 * `nowMs` is the clock; time claims are whole seconds, so the clock is floored to one.
 */
export function checkClaims(
  rules: ClaimRules,
  header: Readonly<Record<string, unknown>>,
  claims: Record<string, unknown>,
  nowMs: number,
): void {
  if (rules.type !== undefined) {
    const typ = header.typ;
    if (typeof typ !== "string" || normalizeMediaType(typ) !== rules.type) {
      refuse("wrong_type", 'the token "typ" header is not the expected type');
    }
  }
  for (const name of rules.required) {
    if (!Object.hasOwn(claims, name)) refuse("missing_claim", `the token has no "${name}" claim`);
  }
  if (rules.issuers !== undefined && !rules.issuers.includes(claims.iss as string)) {
    refuse("wrong_issuer", "the token issuer is not trusted");
  }
  if (rules.audiences !== undefined && !audienceMatches(claims.aud, rules.audiences)) {
    refuse("wrong_audience", "the token is meant for another audience");
  }

  const now = Math.floor(nowMs / 1000);
  const tolerance = rules.toleranceSeconds;
  const iat = timeClaim(claims, "iat");
  const nbf = timeClaim(claims, "nbf");
  if (nbf !== undefined && nbf > now + tolerance) refuse("not_yet_valid", "the token is not valid yet");
  const exp = timeClaim(claims, "exp");
  if (exp !== undefined && exp <= now - tolerance) refuse("expired", "the token has expired");
  if (rules.maxTokenAgeSeconds !== undefined && iat !== undefined) {
    const age = now - iat;
    if (age - tolerance > rules.maxTokenAgeSeconds) {
      refuse("too_old", "the token is older than the allowed maximum age");
    }
    if (age < -tolerance) refuse("issued_in_future", "the token was issued in the future");
  }
  for (const name of TIME_CLAIMS) {
    const value = claims[name] as number | undefined;
    if (value !== undefined && !(value >= 0 && value <= MAX_EPOCH_SECONDS)) {
      refuse("invalid_claim", `the token "${name}" claim is not a time from 1970 to 9999`);
    }
  }
  // A token from the future is refused always, not only under maxTokenAgeSeconds; against the
  // unfloored clock, so a token issued later this very second is refused too.
  if (iat !== undefined && iat > nowMs / 1000 + tolerance) {
    refuse("issued_in_future", "the token was issued in the future");
  }
}

function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === "string") return accepted.includes(aud);
  if (Array.isArray(aud)) return accepted.some((value) => aud.includes(value));
  return false;
}
