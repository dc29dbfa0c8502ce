import { createPublicKey, type KeyObject, type JsonWebKey as NodeJsonWebKey, webcrypto } from "node:crypto";
import { InfrastructureError } from "@proj/ports";
import { createRemoteJWKSet, errors, importJWK, type JWK, type JWSHeaderParameters } from "jose";
import { ALGORITHMS, type JwtAlgorithm } from "./jwt-algorithms.js";
import { mapJwksError } from "./map-jose-error.js";

/** A public JSON Web Key, typed structurally so callers need no `jose` import. */
export interface JwtPublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  crv?: string;
  [parameter: string]: unknown;
}

export interface JwtKeySet {
  keys: readonly JwtPublicJwk[];
}

export interface RemoteJwksOptions {
  /** How long fetched keys are used before they are fetched again. Default 600 000 (10 minutes). */
  cacheMaxAgeMs?: number;
  /** After a fetch, a token with an unknown `kid` waits this long before it may trigger another. Default 30 000. */
  cooldownMs?: number;
  /** Time limit for one JWKS request; beyond it the decode fails `UNAVAILABLE`. Default 5 000. */
  timeoutMs?: number;
  /** Extra request headers (an API key, for instance). */
  headers?: Record<string, string>;
}

/** Key material checked and assigned to algorithms, ready to import. */
interface PreparedKey {
  kid: string | undefined;
  algorithms: JwtAlgorithm[];
  jwk?: JWK;
  secret?: Uint8Array;
}

export type CryptoKey = webcrypto.CryptoKey;

interface KeyEntry {
  kid: string | undefined;
  key: CryptoKey;
}

function invalid(message: string, cause?: unknown): InfrastructureError {
  return new InfrastructureError("INVALID_ARGUMENT", message, cause === undefined ? {} : { cause });
}

function secretAlgorithms(
  label: string,
  secret: Uint8Array,
  allowed: readonly JwtAlgorithm[],
): JwtAlgorithm[] {
  const algorithms = allowed.filter((alg) => ALGORITHMS[alg].kty === "oct");
  for (const alg of algorithms) {
    const minimum = ALGORITHMS[alg].minSecretBytes ?? 0;
    if (secret.byteLength < minimum)
      throw invalid(`${label} is shorter than the ${minimum} bytes ${alg} needs`);
  }
  return algorithms;
}

/**
 * Which allowed algorithms one public key may verify: its type and curve must match the algorithm,
 * and a key that names its `alg` or a non-signature `use` is held to it.
 */
function publicKeyAlgorithms(
  keyObject: KeyObject,
  jwk: JWK,
  declared: JwtPublicJwk | undefined,
  allowed: readonly JwtAlgorithm[],
): JwtAlgorithm[] {
  if (declared?.use !== undefined && declared.use !== "sig") return [];
  const modulus = keyObject.asymmetricKeyDetails?.modulusLength;
  return allowed.filter((alg) => {
    const spec = ALGORITHMS[alg];
    if (spec.kty !== jwk.kty || (spec.crv !== undefined && spec.crv !== jwk.crv)) return false;
    if (spec.kty === "RSA" && (modulus === undefined || modulus < 2048)) return false;
    return declared?.alg === undefined || declared.alg === alg;
  });
}

function preparePublicKey(
  label: string,
  input: string | JwtPublicJwk | KeyObject,
  allowed: readonly JwtAlgorithm[],
): PreparedKey {
  let keyObject: KeyObject;
  const declared = typeof input === "object" && !isKeyObject(input) ? input : undefined;
  if (declared !== undefined && ("d" in declared || "k" in declared || "p" in declared)) {
    throw invalid(`${label} is not a public key`);
  }
  try {
    if (typeof input === "string") keyObject = createPublicKey(input);
    else if (isKeyObject(input)) {
      if (input.type === "secret") throw invalid(`${label} is a secret key; pass it as secret`);
      keyObject = input.type === "private" ? createPublicKey(input) : input;
    } else keyObject = createPublicKey({ key: input as NodeJsonWebKey, format: "jwk" });
  } catch (error) {
    if (error instanceof InfrastructureError) throw error;
    throw invalid(`${label} is not a usable public key (PEM, JWK or KeyObject)`, error);
  }
  const jwk = keyObject.export({ format: "jwk" }) as JWK;
  return {
    kid: typeof declared?.kid === "string" ? declared.kid : undefined,
    algorithms: publicKeyAlgorithms(keyObject, jwk, declared, allowed),
    jwk,
  };
}

function isKeyObject(value: unknown): value is KeyObject {
  return (value as { [Symbol.toStringTag]?: unknown })?.[Symbol.toStringTag] === "KeyObject";
}

export interface StaticKeySources {
  secret?: string | Uint8Array;
  publicKeys?: readonly (string | JwtPublicJwk | KeyObject)[];
  jwks?: JwtKeySet;
}

/**
 * Checks every configured key synchronously, so a bad key fails the factory, not the first request.
 * Every allowed algorithm must be covered by at least one key.
 */
export function prepareStaticKeys(
  sources: StaticKeySources,
  allowed: readonly JwtAlgorithm[],
): PreparedKey[] {
  const prepared: PreparedKey[] = [];
  if (sources.secret !== undefined) {
    const secret =
      typeof sources.secret === "string"
        ? new TextEncoder().encode(sources.secret)
        : Uint8Array.from(sources.secret);
    const algorithms = secretAlgorithms("the secret", secret, allowed);
    if (algorithms.length === 0) throw invalid("a secret was given but no HS* algorithm is allowed");
    prepared.push({ kid: undefined, algorithms, secret });
  }
  for (const [index, key] of (sources.publicKeys ?? []).entries()) {
    const label = `publicKeys[${index}]`;
    const entry = preparePublicKey(label, key, allowed);
    if (entry.algorithms.length === 0) throw invalid(`${label} fits none of the allowed algorithms`);
    prepared.push(entry);
  }
  if (sources.jwks !== undefined) {
    if (!Array.isArray(sources.jwks.keys)) throw invalid("jwks must be a JSON Web Key Set ({ keys: [...] })");
    // A published key set also holds keys for other algorithms and uses: those are skipped, not errors.
    for (const [index, jwk] of sources.jwks.keys.entries()) {
      const label = `jwks.keys[${index}]${typeof jwk.kid === "string" ? ` (kid ${jwk.kid})` : ""}`;
      if (jwk.kty === "oct") {
        if (typeof jwk.k !== "string" || (jwk.use !== undefined && jwk.use !== "sig")) continue;
        const secret = Buffer.from(jwk.k, "base64url");
        const algorithms = secretAlgorithms(label, secret, allowed).filter(
          (alg) => jwk.alg === undefined || jwk.alg === alg,
        );
        if (algorithms.length > 0) prepared.push({ kid: jwk.kid, algorithms, secret });
        continue;
      }
      const entry = preparePublicKey(label, jwk, allowed);
      if (entry.algorithms.length > 0) prepared.push(entry);
    }
  }
  for (const alg of allowed) {
    if (!prepared.some((key) => key.algorithms.includes(alg))) {
      throw invalid(`no configured key can verify ${alg}; remove it from algorithms or add a key`);
    }
  }
  return prepared;
}

/** Keys imported once, indexed by algorithm: the only keys a token can ever be checked against. */
export class StaticKeyRing {
  readonly #byAlgorithm: Map<string, KeyEntry[]>;

  private constructor(byAlgorithm: Map<string, KeyEntry[]>) {
    this.#byAlgorithm = byAlgorithm;
  }

  static async import(prepared: readonly PreparedKey[]): Promise<StaticKeyRing> {
    const byAlgorithm = new Map<string, KeyEntry[]>();
    for (const entry of prepared) {
      for (const alg of entry.algorithms) {
        const key =
          entry.secret !== undefined
            ? await webcrypto.subtle.importKey(
                "raw",
                entry.secret,
                { name: "HMAC", hash: ALGORITHMS[alg].hash },
                false,
                ["verify"],
              )
            : ((await importJWK(entry.jwk as JWK, alg)) as CryptoKey);
        const list = byAlgorithm.get(alg) ?? [];
        list.push({ kid: entry.kid, key });
        byAlgorithm.set(alg, list);
      }
    }
    return new StaticKeyRing(byAlgorithm);
  }

  /**
   * The keys that may verify a token with this `alg` and `kid`: a key without a `kid` matches any
   * token, a key with one only tokens naming it (or naming none).
   */
  select(alg: string, kid: string | undefined): CryptoKey[] {
    const entries = this.#byAlgorithm.get(alg);
    if (entries === undefined) return [];
    if (entries.length === 1) {
      const only = entries[0] as KeyEntry;
      return kid === undefined || only.kid === undefined || only.kid === kid ? [only.key] : [];
    }
    const keys: CryptoKey[] = [];
    for (const entry of entries) {
      if (kid === undefined || entry.kid === undefined || entry.kid === kid) keys.push(entry.key);
    }
    return keys;
  }
}

/** A JWKS endpoint, fetched with jose's cache, `kid` refresh and cooldown; its failures are UNAVAILABLE. */
export class RemoteKeySource {
  readonly endpoint: string;
  readonly #resolve: ReturnType<typeof createRemoteJWKSet>;

  constructor(url: URL, options: RemoteJwksOptions) {
    // The origin and path name the endpoint in errors; a query string may carry credentials.
    this.endpoint = `${url.origin}${url.pathname}`;
    try {
      this.#resolve = createRemoteJWKSet(url, {
        cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
        cooldownDuration: options.cooldownMs ?? 30_000,
        timeoutDuration: options.timeoutMs ?? 5_000,
        ...(options.headers === undefined ? {} : { headers: options.headers }),
      });
    } catch (error) {
      throw invalid(`the JWKS options for ${this.endpoint} are invalid`, error);
    }
  }

  async select(header: JWSHeaderParameters): Promise<CryptoKey[]> {
    try {
      return [await this.#resolve(header)];
    } catch (error) {
      if (error instanceof errors.JWKSMultipleMatchingKeys) {
        const keys: CryptoKey[] = [];
        for await (const key of error) keys.push(key);
        return keys;
      }
      throw mapJwksError(error, this.endpoint);
    }
  }
}
