import { createPublicKey, type KeyObject, type JsonWebKey as NodeJsonWebKey, webcrypto } from "node:crypto";
import { closedError, InfrastructureError } from "@proj/ports";
import { importJWK, type JWK } from "jose";
import { ALGORITHMS, type JwtAlgorithm } from "./jwt-algorithms.js";

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
  /** A larger key set answer is refused (`UNAVAILABLE`) without being read further. Default 262 144 (256 KiB). */
  maxResponseBytes?: number;
  /**
   * After a failed fetch, decodes fail at once (`UNAVAILABLE`) for this long before the next fetch;
   * doubled (with jitter) after each further failure. Default 1 000.
   */
  backoffMs?: number;
  /** Longest wait between fetches of a failing endpoint. Default 60 000. */
  maxBackoffMs?: number;
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
    prepared.push(...prepareKeySet(sources.jwks.keys, allowed, "jwks", true));
  }
  for (const alg of allowed) {
    if (!prepared.some((key) => key.algorithms.includes(alg))) {
      throw invalid(`no configured key can verify ${alg}; remove it from algorithms or add a key`);
    }
  }
  return prepared;
}

/**
 * The usable keys of a JSON Web Key Set. A published set also holds keys for other algorithms and
 * uses, or too weak for them (a 1024-bit RSA key): those are skipped, never an end to the search.
 * A configured set (`strict`) still fails on a key that is broken or private; a fetched one skips it.
 */
function prepareKeySet(
  keys: readonly JwtPublicJwk[],
  allowed: readonly JwtAlgorithm[],
  name: string,
  strict: boolean,
): PreparedKey[] {
  const prepared: PreparedKey[] = [];
  for (const [index, jwk] of keys.entries()) {
    if (typeof jwk !== "object" || jwk === null) {
      if (strict) throw invalid(`${name}.keys[${index}] is not a JSON Web Key`);
      continue;
    }
    const label = `${name}.keys[${index}]${typeof jwk.kid === "string" ? ` (kid ${jwk.kid})` : ""}`;
    try {
      if (jwk.kty === "oct") {
        // A key set fetched over the network never holds shared secrets we would trust.
        if (!strict || typeof jwk.k !== "string" || (jwk.use !== undefined && jwk.use !== "sig")) continue;
        const secret = Buffer.from(jwk.k, "base64url");
        const algorithms = secretAlgorithms(label, secret, allowed).filter(
          (alg) => jwk.alg === undefined || jwk.alg === alg,
        );
        if (algorithms.length > 0) prepared.push({ kid: jwk.kid, algorithms, secret });
        continue;
      }
      const entry = preparePublicKey(label, jwk, allowed);
      if (entry.algorithms.length > 0) prepared.push(entry);
    } catch (error) {
      if (strict) throw error;
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

const DEFAULT_MAX_RESPONSE_BYTES = 262_144;

function positive(value: number | undefined, name: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw invalid(`remoteJwks.${name} must be a ${allowZero ? "non-negative" : "positive"} number`);
  }
  return value;
}

/** Why one fetch of the key set failed, for the `UNAVAILABLE` error and its details. */
class KeySetFetchError extends Error {
  constructor(
    readonly kind: "timeout" | "status" | "too_large" | "not_a_key_set" | "network",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Reads at most `limit` bytes of a body; more fails without reading the rest. */
async function readCapped(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw new KeySetFetchError("too_large", `answered more than ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new KeySetFetchError("too_large", `answered more than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A JWKS endpoint: one fetch at a time (concurrent decodes share it), keys kept `cacheMaxAgeMs`,
 * an unknown `kid` refetches at most once per `cooldownMs`, and a failing endpoint is asked again
 * only after a back-off that grows with each failure: in between, decodes fail `UNAVAILABLE` at once.
 */
export class RemoteKeySource {
  readonly endpoint: string;
  readonly #url: URL;
  readonly #allowed: readonly JwtAlgorithm[];
  readonly #headers: Record<string, string>;
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  #ring: StaticKeyRing | undefined;
  #kids: ReadonlySet<string> = new Set();
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  #failures = 0;
  #retryAt = 0;
  #lastFailure: InfrastructureError | undefined;
  /** Fires on `close()`: ends a fetch in flight and its connection, instead of leaving it to the timeout. */
  readonly #closing = new AbortController();

  constructor(url: URL, allowed: readonly JwtAlgorithm[], options: RemoteJwksOptions) {
    // The origin and path name the endpoint in errors; a query string may carry credentials.
    this.endpoint = `${url.origin}${url.pathname}`;
    this.#url = url;
    this.#allowed = allowed;
    this.#headers = { accept: "application/json", ...options.headers };
    this.#maxAgeMs = positive(options.cacheMaxAgeMs, "cacheMaxAgeMs", 600_000);
    this.#cooldownMs = positive(options.cooldownMs, "cooldownMs", 30_000, true);
    this.#timeoutMs = positive(options.timeoutMs, "timeoutMs", 5_000);
    this.#maxResponseBytes = positive(
      options.maxResponseBytes,
      "maxResponseBytes",
      DEFAULT_MAX_RESPONSE_BYTES,
    );
    this.#backoffMs = positive(options.backoffMs, "backoffMs", 1_000, true);
    this.#maxBackoffMs = Math.max(
      this.#backoffMs,
      positive(options.maxBackoffMs, "maxBackoffMs", 60_000, true),
    );
  }

  /** The keys that may verify a token with this `alg` and `kid`; `UNAVAILABLE` when the set cannot be had. */
  async select(alg: string, kid: string | undefined): Promise<CryptoKey[]> {
    if (this.#ring === undefined || Date.now() - this.#fetchedAt >= this.#maxAgeMs) await this.#refresh();
    let keys = (this.#ring as StaticKeyRing).select(alg, kid);
    const unseenKid = kid !== undefined && !this.#kids.has(kid);
    if (keys.length === 0 && unseenKid && Date.now() - this.#fetchedAt >= this.#cooldownMs) {
      await this.#refresh();
      keys = (this.#ring as StaticKeyRing).select(alg, kid);
    }
    return keys;
  }

  /** Ends a fetch in flight (its decodes fail `CLOSED`); no fetch starts after this. */
  close(): void {
    this.#closing.abort();
  }

  #refresh(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    if (this.#closing.signal.aborted) throw closedError("JWT token decoder");
    if (this.#lastFailure !== undefined && Date.now() < this.#retryAt) {
      throw new InfrastructureError(
        "UNAVAILABLE",
        `the JWKS endpoint ${this.endpoint} failed; it is asked again in ${Math.ceil(this.#retryAt - Date.now())} ms`,
        { cause: this.#lastFailure, details: { ...this.#lastFailure.details, backoff: true } },
      );
    }
    try {
      const keys = await this.#fetch();
      const ring = await StaticKeyRing.import(
        prepareKeySet(keys, this.#allowed, "the fetched key set", false),
      );
      this.#ring = ring;
      this.#kids = new Set(keys.flatMap((key) => (typeof key?.kid === "string" ? [key.kid] : [])));
      this.#fetchedAt = Date.now();
      this.#failures = 0;
      this.#lastFailure = undefined;
    } catch (error) {
      if (this.#closing.signal.aborted) throw closedError("JWT token decoder");
      this.#failures += 1;
      const ceiling = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** (this.#failures - 1));
      // Equal jitter: instances that saw the same outage do not come back in step.
      this.#retryAt = Date.now() + ceiling / 2 + Math.random() * (ceiling / 2);
      this.#lastFailure = this.#unavailable(error);
      throw this.#lastFailure;
    }
  }

  async #fetch(): Promise<JwtPublicJwk[]> {
    let response: Response;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = AbortSignal.any([timeout, this.#closing.signal]);
    try {
      response = await fetch(this.#url, { headers: this.#headers, redirect: "manual", signal });
    } catch (error) {
      if (timeout.aborted) throw new KeySetFetchError("timeout", "did not answer in time", { cause: error });
      throw new KeySetFetchError("network", "could not be reached", { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new KeySetFetchError("status", `answered HTTP ${response.status}`);
    }
    let text: string;
    try {
      text = await readCapped(response, this.#maxResponseBytes);
    } catch (error) {
      if (error instanceof KeySetFetchError) throw error;
      if (timeout.aborted) throw new KeySetFetchError("timeout", "did not answer in time", { cause: error });
      throw new KeySetFetchError("network", "broke off its answer", { cause: error });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new KeySetFetchError("not_a_key_set", "answered something that is not JSON", { cause: error });
    }
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (typeof body !== "object" || body === null || !Array.isArray(keys)) {
      throw new KeySetFetchError("not_a_key_set", "answered something that is not a JSON Web Key Set");
    }
    return keys as JwtPublicJwk[];
  }

  #unavailable(error: unknown): InfrastructureError {
    const kind = error instanceof KeySetFetchError ? error.kind : "network";
    const what = error instanceof KeySetFetchError ? error.message : "failed";
    return new InfrastructureError("UNAVAILABLE", `the JWKS endpoint ${this.endpoint} ${what}`, {
      cause: error,
      details: { endpoint: this.endpoint, failure: kind, consecutiveFailures: this.#failures },
    });
  }
}
