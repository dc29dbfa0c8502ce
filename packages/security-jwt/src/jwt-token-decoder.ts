import type { KeyObject } from "node:crypto";
import {
  cancelledError,
  closedError,
  InfrastructureError,
  isInfrastructureError,
  type OperationOptions,
  type Principal,
  type TokenDecoder,
  UnauthenticatedError,
} from "@proj/ports";
import { isJwtAlgorithm, type JwtAlgorithm } from "./jwt-algorithms.js";
import { type ClaimRules, checkClaims, claimRules } from "./jwt-claims.js";
import {
  type CryptoKey,
  type JwtKeySet,
  type JwtPublicJwk,
  prepareStaticKeys,
  type RemoteJwksOptions,
  RemoteKeySource,
  StaticKeyRing,
} from "./jwt-keys.js";
import {
  createClaimMapper,
  freezePrincipal,
  type JwtClaimMapping,
  type JwtPrincipalMapper,
} from "./jwt-principal.js";
import { signatureCheckFor } from "./jwt-signature.js";
import { VerifiedTokenCache } from "./jwt-token-cache.js";
import { extractToken, parseJsonObject, refuse, splitToken, type TokenSegments } from "./jwt-token-text.js";

export interface JwtTokenCacheOptions {
  /** Most verified tokens kept; the least recently used goes first. Default 10 000. */
  maxEntries?: number;
  /** Longest an entry is served, whatever the token's `exp`. Default 60 000 (one minute). */
  maxAgeMs?: number;
}

export interface JwtTokenDecoderOptions {
  /** The only algorithms accepted. Required; `none` is never accepted. */
  algorithms: readonly JwtAlgorithm[];
  /** Shared secret for HS256/HS384/HS512 (at least as long as the hash: 32, 48, 64 bytes). */
  secret?: string | Uint8Array;
  /** Public keys: PEM (SPKI, PKCS#1 or certificate), public JWK, or `KeyObject`. */
  publicKeys?: readonly (string | JwtPublicJwk | KeyObject)[];
  /** A JSON Web Key Set held locally; keys for other algorithms or uses are ignored. */
  jwks?: JwtKeySet;
  /** A JWKS endpoint (https, or http on a loopback address). Excludes secret, publicKeys and jwks. */
  jwksUrl?: string | URL;
  remoteJwks?: RemoteJwksOptions;
  /** Accepted `iss` values; when set, a token without `iss` is refused. */
  issuer?: string | readonly string[];
  /** Accepted `aud` values (one match suffices); when set, a token without `aud` is refused. */
  audience?: string | readonly string[];
  /** Refuse tokens without `exp`. Default true. */
  requireExpiration?: boolean;
  /** Refuse tokens whose `iat` is older than this; makes `iat` required. */
  maxTokenAgeSeconds?: number;
  /** Leeway for `exp`, `nbf` and `iat` against clock skew. Default 0. */
  clockToleranceSeconds?: number;
  /** Required `typ` header (`"at+jwt"`, `"JWT"`), compared as media types. Default: not checked. */
  type?: string;
  /** Extension header names the caller handles; a `crit` naming anything else is refused. */
  understoodCriticalHeaders?: readonly string[];
  /** Longer tokens are refused (`too_large`) before any parsing. Default 8192. */
  maxTokenBytes?: number;
  /** Which claims hold the tenant, roles and scopes. */
  claims?: JwtClaimMapping;
  /** Replaces the claim mapping entirely. */
  mapPrincipal?: JwtPrincipalMapper;
  /** Cache verified tokens (`true` for the defaults). Default off. */
  cache?: boolean | JwtTokenCacheOptions;
  /** Clock for time claims; tests may pass their own. Default `() => new Date()`. */
  now?: () => Date;
}

/** What `verify` returns: the principal and the token's protected header. */
export interface VerifiedJwt {
  principal: Principal;
  protectedHeader: Readonly<Record<string, unknown>>;
}

/** What a verification learnt beyond the principal, for the callers that want it. */
interface VerificationFacts {
  header?: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds until which the verification may be reused, when the token has an end. */
  validUntil?: number | undefined;
}

const DEFAULT_MAX_TOKEN_BYTES = 8192;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** Header parameters that change what the bytes mean; no JWT we accept uses them. */
const UNSUPPORTED_HEADERS = ["b64", "zip"] as const;
/** Distinct token headers remembered; a real issuer has a handful (one per key). */
const HEADER_CACHE_SIZE = 64;

function invalid(message: string): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message);
}

function checkAlgorithms(algorithms: unknown): JwtAlgorithm[] {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw invalid("algorithms is required: list the algorithms your issuer signs with");
  }
  for (const alg of algorithms) {
    if (!isJwtAlgorithm(alg)) throw invalid(`algorithm ${String(alg)} is not supported`);
  }
  return [...new Set(algorithms as JwtAlgorithm[])];
}

function nonNegative(value: number | undefined, name: string, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw invalid(`${name} must be a ${allowZero ? "non-negative" : "positive"} number`);
  }
  return value;
}

function jwksEndpoint(value: string | URL): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid("jwksUrl is not a URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
    throw invalid("jwksUrl must use https (plain http only on a loopback address)");
  }
  return url;
}

function raceSignal<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError(signal, "token decode"));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * A `TokenDecoder` for strict JWS compact JWTs: keys imported once by jose, signatures verified with
 * node:crypto, every refusal typed.
 */
export class JwtTokenDecoder implements TokenDecoder {
  readonly #allowed: ReadonlySet<string>;
  readonly #understoodCritical: ReadonlySet<string>;
  readonly #limit: number;
  readonly #tolerance: number;
  readonly #maxTokenAge: number | undefined;
  readonly #claimRules: ClaimRules;
  readonly #mapper: JwtPrincipalMapper;
  readonly #customMapper: boolean;
  readonly #now: (() => Date) | undefined;
  readonly #cache: VerifiedTokenCache | undefined;
  readonly #remote: RemoteKeySource | undefined;
  readonly #ringReady: Promise<StaticKeyRing> | undefined;
  readonly #headers = new Map<string, Readonly<Record<string, unknown>>>();
  #ring: StaticKeyRing | undefined;
  #closed = false;

  constructor(options: JwtTokenDecoderOptions) {
    if (typeof options !== "object" || options === null) throw invalid("options are required");
    const algorithms = checkAlgorithms(options.algorithms);
    this.#allowed = new Set(algorithms);
    const critical = options.understoodCriticalHeaders ?? [];
    this.#understoodCritical = new Set(critical);
    this.#limit = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    if (!Number.isInteger(this.#limit) || this.#limit <= 0)
      throw invalid("maxTokenBytes must be a positive integer");
    this.#tolerance = nonNegative(options.clockToleranceSeconds, "clockToleranceSeconds", true) ?? 0;
    this.#maxTokenAge = nonNegative(options.maxTokenAgeSeconds, "maxTokenAgeSeconds", false);
    this.#now = options.now;
    this.#customMapper = options.mapPrincipal !== undefined;
    this.#mapper = options.mapPrincipal ?? createClaimMapper(options.claims);
    this.#claimRules = claimRules({
      issuer: options.issuer,
      audience: options.audience,
      type: options.type,
      requireExpiration: options.requireExpiration,
      maxTokenAgeSeconds: this.#maxTokenAge,
      toleranceSeconds: this.#tolerance,
    });

    if (options.cache !== undefined && options.cache !== false) {
      const settings = options.cache === true ? {} : options.cache;
      const maxEntries = settings.maxEntries ?? 10_000;
      if (!Number.isInteger(maxEntries) || maxEntries <= 0)
        throw invalid("cache.maxEntries must be a positive integer");
      this.#cache = new VerifiedTokenCache(
        maxEntries,
        nonNegative(settings.maxAgeMs, "cache.maxAgeMs", false) ?? 60_000,
      );
    }

    const hasStatic =
      options.secret !== undefined || options.publicKeys !== undefined || options.jwks !== undefined;
    if (options.jwksUrl !== undefined) {
      if (hasStatic) throw invalid("jwksUrl excludes secret, publicKeys and jwks: configure one key source");
      if (algorithms.some((alg) => alg.startsWith("HS"))) {
        throw invalid("a remote JWKS holds public keys only: HS* algorithms cannot be allowed with jwksUrl");
      }
      this.#remote = new RemoteKeySource(jwksEndpoint(options.jwksUrl), algorithms, options.remoteJwks ?? {});
    } else {
      if (!hasStatic) throw invalid("no key configured: pass secret, publicKeys, jwks or jwksUrl");
      const prepared = prepareStaticKeys(options, algorithms);
      this.#ringReady = StaticKeyRing.import(prepared).then((ring) => {
        this.#ring = ring;
        return ring;
      });
      // Failures surface on the first decode; this only keeps them from being reported as unhandled.
      this.#ringReady.catch(() => undefined);
    }
  }

  // Not `async`: the hot path returns #verify's promise as is, without another promise layer.
  decode(tokenOrAuthorizationHeader: string, options?: OperationOptions): Promise<Principal> {
    try {
      if (this.#closed) throw closedError("JWT token decoder");
      const signal = options?.signal;
      if (signal?.aborted) throw cancelledError(signal, "token decode");
      const token = extractToken(tokenOrAuthorizationHeader, this.#limit);
      const cache = this.#cache;
      if (cache === undefined) {
        const principal = this.#verify(token, signal);
        return principal instanceof Promise ? principal : Promise.resolve(principal);
      }

      const key = VerifiedTokenCache.keyOf(token);
      const now = this.#now === undefined ? Date.now() : this.#now().getTime();
      const cached = cache.get(key, now);
      if (cached !== undefined) return Promise.resolve(cached);
      const facts: VerificationFacts = {};
      const principal = this.#verify(token, signal, facts);
      if (principal instanceof Promise) {
        return principal.then((verified) => this.#remember(cache, key, verified, facts, now));
      }
      return Promise.resolve(this.#remember(cache, key, principal, facts, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #remember(
    cache: VerifiedTokenCache,
    key: string,
    principal: Principal,
    facts: VerificationFacts,
    now: number,
  ): Principal {
    if (facts.validUntil !== undefined && !this.#closed) cache.set(key, principal, facts.validUntil, now);
    return principal;
  }

  /** Like `decode`, but also returns the protected header (`kid`, `typ`...), and never uses the cache. */
  async verify(tokenOrAuthorizationHeader: string, options?: OperationOptions): Promise<VerifiedJwt> {
    if (this.#closed) throw closedError("JWT token decoder");
    const signal = options?.signal;
    if (signal?.aborted) throw cancelledError(signal, "token decode");
    const facts: VerificationFacts = {};
    const principal = await this.#verify(
      extractToken(tokenOrAuthorizationHeader, this.#limit),
      signal,
      facts,
    );
    return { principal, protectedHeader: facts.header ?? {} };
  }

  /**
   * Synchronous whenever the keys are at hand (static keys once imported, which is every call but the
   * first few): a miss then costs no promise beyond the one `decode` returns.
   */
  #verify(
    token: string,
    signal: AbortSignal | undefined,
    facts?: VerificationFacts,
  ): Principal | Promise<Principal> {
    const segments = splitToken(token);
    const header = this.#parseHeader(segments.header);
    const alg = header.alg;
    if (typeof alg !== "string") refuse("malformed", 'the token header has no "alg"');
    if (!this.#allowed.has(alg)) refuse("algorithm_not_allowed", "the token algorithm is not allowed");
    this.#checkHeader(header);
    if (segments.signature.length === 0) refuse("bad_signature", "the token has no signature");
    const kid = header.kid;
    if (kid !== undefined && typeof kid !== "string")
      refuse("malformed", 'the token "kid" header is not a string');

    const ring = this.#ring;
    if (ring !== undefined) {
      return this.#verifyWith(ring.select(alg, kid), alg as JwtAlgorithm, token, segments, header, facts);
    }
    return this.#keysFor(alg, kid, signal).then((keys) =>
      this.#verifyWith(keys, alg as JwtAlgorithm, token, segments, header, facts),
    );
  }

  #verifyWith(
    keys: readonly CryptoKey[],
    alg: JwtAlgorithm,
    token: string,
    segments: TokenSegments,
    header: Readonly<Record<string, unknown>>,
    facts: VerificationFacts | undefined,
  ): Principal {
    if (keys.length === 0) refuse("unknown_key", "no trusted key matches the token");
    const signingInput = token.slice(0, segments.header.length + 1 + segments.payload.length);
    const signature = Buffer.from(segments.signature, "base64url");
    // Several keys may share a kid-less algorithm or a kid (rotation): a key that cannot serve the
    // token (unknown_key) or whose signature does not match moves on to the next.
    let refusal: unknown;
    let verified = false;
    for (const key of keys) {
      try {
        if (signatureCheckFor(alg, key)(signingInput, signature)) {
          verified = true;
          break;
        }
        refusal = new UnauthenticatedError("bad_signature", "the token signature does not verify");
      } catch (error) {
        refusal ??= isInfrastructureError(error)
          ? error
          : new InfrastructureError("INTERNAL", "a verification key could not be used", { cause: error });
      }
    }
    if (!verified) throw refusal;

    // Only a payload whose signature verified is parsed.
    const claims = parseJsonObject(segments.payload, "payload");
    const nowMs = this.#now === undefined ? Date.now() : this.#now().getTime();
    checkClaims(this.#claimRules, header, claims, nowMs);
    const principal = freezePrincipal(this.#map(claims, header));
    if (facts !== undefined) {
      facts.header = header;
      facts.validUntil = this.#validUntil(claims);
    }
    return principal;
  }

  /**
   * Parsed headers by their encoded text: an issuer sends the same few headers (alg, kid, typ) over
   * and over, and parsing is a pure function of the text, which the signature check then covers.
   */
  #parseHeader(encoded: string): Readonly<Record<string, unknown>> {
    const known = this.#headers.get(encoded);
    if (known !== undefined) return known;
    const header = Object.freeze(parseJsonObject(encoded, "header"));
    if (this.#headers.size >= HEADER_CACHE_SIZE) this.#headers.clear();
    // `encoded` is a slice of the bearer string, and a slice keeps its whole parent alive: the
    // key is a copy, so no token outlives its request here.
    this.#headers.set(Buffer.from(encoded, "latin1").toString("latin1"), header);
    return header;
  }

  #checkHeader(header: Readonly<Record<string, unknown>>): void {
    const crit = header.crit;
    if (crit !== undefined) {
      if (!Array.isArray(crit) || crit.length === 0)
        refuse("malformed", 'the token "crit" header is not a list');
      for (const name of crit) {
        if (typeof name !== "string" || !this.#understoodCritical.has(name)) {
          refuse("unsupported_header", "the token marks a header parameter critical that is not understood");
        }
        // RFC 7515 §4.1.11: a critical parameter must be present, and listed once.
        if (header[name] === undefined)
          refuse("malformed", `the token marks "${name}" critical but lacks it`);
      }
      if (new Set(crit).size !== crit.length) refuse("malformed", 'the token "crit" header repeats a name');
    }
    for (const name of UNSUPPORTED_HEADERS) {
      if (header[name] !== undefined)
        refuse("unsupported_header", `the token uses the "${name}" header parameter`);
    }
  }

  async #keysFor(
    alg: string,
    kid: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CryptoKey[]> {
    if (this.#ring !== undefined) return this.#ring.select(alg, kid);
    if (this.#remote !== undefined) {
      return raceSignal(this.#remote.select(alg, kid), signal);
    }
    let ring: StaticKeyRing;
    try {
      ring = await (this.#ringReady as Promise<StaticKeyRing>);
    } catch (error) {
      throw new InfrastructureError("INTERNAL", "the configured verification keys could not be imported", {
        cause: error,
      });
    }
    return ring.select(alg, kid);
  }

  #map(claims: Record<string, unknown>, header: Readonly<Record<string, unknown>>): Principal {
    if (!this.#customMapper) return this.#mapper(claims, header);
    try {
      return this.#mapper(claims, header);
    } catch (error) {
      if (isInfrastructureError(error)) throw error;
      throw new InfrastructureError("INTERNAL", "the mapPrincipal option threw", { cause: error });
    }
  }

  #validUntil(claims: Record<string, unknown>): number | undefined {
    if (typeof claims.exp !== "number") return undefined;
    let until = claims.exp;
    if (this.#maxTokenAge !== undefined && typeof claims.iat === "number") {
      until = Math.min(until, claims.iat + this.#maxTokenAge);
    }
    return until * 1000;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#remote?.close();
    this.#cache?.clear();
    this.#headers.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Builds a `TokenDecoder` that verifies JWTs with jose. Throws `INVALID_ARGUMENT` on a bad configuration. */
export function createJwtTokenDecoder(options: JwtTokenDecoderOptions): JwtTokenDecoder {
  return new JwtTokenDecoder(options);
}
