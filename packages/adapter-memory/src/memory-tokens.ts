import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  closedError,
  InfrastructureError,
  type OperationOptions,
  type Principal,
  type TokenClaims,
  type TokenDecoder,
  type TokenFailureReason,
  type TokenIssuer,
  throwIfAborted,
  UnauthenticatedError,
} from "@proj/ports";

export interface MemoryTokenAuthorityOptions {
  /** HMAC key shared by the issuer and the decoder (at least 32 bytes). Default: 32 random bytes. */
  secret?: string | Uint8Array;
  /** Tokens longer than this many characters are refused (`too_large`) before parsing. Default 8192. */
  maxTokenBytes?: number;
  /** Clock for `iat`/`exp`/`nbf` on both sides; tests may pass their own. Default `() => new Date()`. */
  now?: () => Date;
}

/** An issuer and a decoder that trusts exactly the issuer's tokens (HS256 JWTs). */
export interface MemoryTokenAuthority {
  issuer: TokenIssuer;
  decoder: TokenDecoder;
}

const DEFAULT_MAX_TOKEN_BYTES = 8192;
const DEFAULT_LIFETIME_SECONDS = 3600;
const MIN_SECRET_BYTES = 32;
/** Room for the `Bearer ` scheme and surrounding spaces on top of the token size limit. */
const HEADER_SLACK = 64;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const ENCODED_HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

function refuse(reason: TokenFailureReason, message: string, cause?: unknown): never {
  throw new UnauthenticatedError(reason, message, cause === undefined ? {} : { cause });
}

/** Base64url as RFC 7515 writes it: no padding, and no length that cannot come from whole bytes. */
function decodeSegment(segment: string, what: string): Buffer {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1)
    refuse("malformed", `the token ${what} is not base64url`);
  return Buffer.from(segment, "base64url");
}

function parseObject(segment: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeSegment(segment, what).toString("utf8"));
  } catch (error) {
    if (error instanceof UnauthenticatedError) throw error;
    refuse("malformed", `the token ${what} is not JSON`, error);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    refuse("malformed", `the token ${what} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function numericDate(claims: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const value = claims[name];
  if (value === undefined) {
    if (required) refuse("missing_claim", `the token has no "${name}" claim`);
    return undefined;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    refuse("invalid_claim", `the token "${name}" claim is not a number`);
  }
  return value;
}

function stringList(claims: Record<string, unknown>, name: string): readonly string[] {
  const value = claims[name];
  if (value === undefined) return Object.freeze([]);
  if (typeof value === "string") return Object.freeze(value.split(" ").filter((item) => item.length > 0));
  if (Array.isArray(value) && value.every((item) => typeof item === "string"))
    return Object.freeze([...value]);
  return refuse("invalid_claim", `the token "${name}" claim is not a string list`);
}

/** Takes the token out of a bare token or an `Authorization: Bearer <token>` value. */
function extractToken(input: string, limit: number): string {
  if (typeof input !== "string") refuse("missing", "no bearer token was presented");
  if (input.length > limit + HEADER_SLACK) refuse("too_large", `the token is longer than ${limit} bytes`);
  let token = input.trim();
  const scheme = /^bearer(?:\s+|$)/i.exec(token);
  if (scheme !== null) token = token.slice(scheme[0].length);
  if (token.length === 0) refuse("missing", "no bearer token was presented");
  if (token.length > limit) refuse("too_large", `the token is longer than ${limit} bytes`);
  if (/\s/.test(token)) refuse("malformed", "the authorization value is not a bearer token");
  return token;
}

class MemoryTokenDecoder implements TokenDecoder {
  #closed = false;

  constructor(
    private readonly key: Buffer,
    private readonly limit: number,
    private readonly now: () => Date,
  ) {}

  async decode(tokenOrAuthorizationHeader: string, options: OperationOptions = {}): Promise<Principal> {
    if (this.#closed) throw closedError("memory token decoder");
    throwIfAborted(options.signal, "token decode");
    const token = extractToken(tokenOrAuthorizationHeader, this.limit);
    const segments = token.split(".");
    if (segments.length !== 3) refuse("malformed", `the token has ${segments.length} segments, not 3`);
    const [encodedHeader = "", encodedPayload = "", encodedSignature = ""] = segments;
    if (encodedHeader.length === 0 || encodedPayload.length === 0)
      refuse("malformed", "the token has an empty segment");
    // Every segment is checked before any of them is trusted enough to be decoded.
    for (const segment of segments) {
      if (!BASE64URL.test(segment) || segment.length % 4 === 1)
        refuse("malformed", "the token is not base64url");
    }

    const header = parseObject(encodedHeader, "header");
    if (header.alg !== "HS256") refuse("algorithm_not_allowed", "the token algorithm is not HS256");
    if (header.crit !== undefined) refuse("unsupported_header", 'the token has a "crit" header');
    if (header.b64 !== undefined || header.zip !== undefined) {
      refuse("unsupported_header", "the token uses an unsupported header parameter");
    }
    if (header.typ !== undefined && (typeof header.typ !== "string" || header.typ.toUpperCase() !== "JWT")) {
      refuse("wrong_type", 'the token "typ" header is not JWT');
    }

    const signature = decodeSegment(encodedSignature, "signature");
    const expected = createHmac("sha256", this.key).update(`${encodedHeader}.${encodedPayload}`).digest();
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      refuse("bad_signature", "the token signature does not verify");
    }

    const claims = parseObject(encodedPayload, "payload");
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    const exp = numericDate(claims, "exp", true) as number;
    const nbf = numericDate(claims, "nbf", false);
    const iat = numericDate(claims, "iat", false);
    if (exp <= nowSeconds) refuse("expired", "the token has expired");
    if (nbf !== undefined && nbf > nowSeconds) refuse("not_yet_valid", "the token is not valid yet");
    if (iat !== undefined && iat > nowSeconds)
      refuse("issued_in_future", "the token was issued in the future");
    if (claims.sub === undefined) refuse("missing_claim", 'the token has no "sub" claim');
    if (typeof claims.sub !== "string" || claims.sub.length === 0) {
      refuse("invalid_claim", 'the token "sub" claim is not a non-empty string');
    }
    if (claims.tenant_id !== undefined && typeof claims.tenant_id !== "string") {
      refuse("invalid_claim", 'the token "tenant_id" claim is not a string');
    }
    if (claims.iss !== undefined && typeof claims.iss !== "string") {
      refuse("invalid_claim", 'the token "iss" claim is not a string');
    }

    return Object.freeze({
      subject: claims.sub,
      tenantId: claims.tenant_id as string | undefined,
      roles: stringList(claims, "roles"),
      scopes: stringList(claims, "scope"),
      expiresAt: new Date(exp * 1000),
      issuedAt: iat === undefined ? undefined : new Date(iat * 1000),
      issuer: claims.iss as string | undefined,
      claims: Object.freeze(claims),
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

class MemoryTokenIssuer implements TokenIssuer {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => Date,
  ) {}

  async issue(claims: TokenClaims): Promise<string> {
    if (typeof claims.subject !== "string" || claims.subject.length === 0) {
      throw new InfrastructureError("INVALID_ARGUMENT", "a token subject must be a non-empty string");
    }
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    // Standard claims come last so `extra` can add claims but never contradict the arguments.
    const payload: Record<string, unknown> = {
      ...claims.extra,
      sub: claims.subject,
      iat: nowSeconds,
      exp: nowSeconds + (claims.expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS),
    };
    if (claims.notBeforeInSeconds !== undefined) payload.nbf = nowSeconds + claims.notBeforeInSeconds;
    if (claims.tenantId !== undefined) payload.tenant_id = claims.tenantId;
    if (claims.roles !== undefined) payload.roles = [...claims.roles];
    if (claims.scopes !== undefined) payload.scope = claims.scopes.join(" ");
    const signingInput = `${ENCODED_HEADER}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    const signature = createHmac("sha256", this.key).update(signingInput).digest("base64url");
    return `${signingInput}.${signature}`;
  }
}

/**
 * A reference `TokenIssuer` + `TokenDecoder` pair: HS256 JWTs signed and verified with node:crypto.
 *
 * Claims: `sub` → subject, `tenant_id` → tenantId, `roles` (array) → roles, `scope` (space-separated
 * string or array) → scopes. The decoder is as strict as a production one: only HS256, `exp`
 * required, `nbf` and `iat` honoured, no clock tolerance.
 */
export function createMemoryTokenAuthority(options: MemoryTokenAuthorityOptions = {}): MemoryTokenAuthority {
  const key =
    options.secret === undefined
      ? randomBytes(MIN_SECRET_BYTES)
      : Buffer.from(typeof options.secret === "string" ? Buffer.from(options.secret) : options.secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new InfrastructureError(
      "INVALID_ARGUMENT",
      `the token secret must be at least ${MIN_SECRET_BYTES} bytes`,
    );
  }
  const limit = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new InfrastructureError("INVALID_ARGUMENT", "maxTokenBytes must be a positive integer");
  }
  const now = options.now ?? (() => new Date());
  return { issuer: new MemoryTokenIssuer(key, now), decoder: new MemoryTokenDecoder(key, limit, now) };
}
