import { constants, createHmac, KeyObject, timingSafeEqual, verify } from "node:crypto";
import type { JwtAlgorithm } from "./jwt-algorithms.js";
import type { CryptoKey } from "./jwt-keys.js";
import { refuse } from "./jwt-token-text.js";

/** Whether `signature` signs `signingInput` (the token up to its last dot, ASCII). */
export type SignatureCheck = (signingInput: string, signature: Buffer) => boolean;

interface Family {
  /** The WebCrypto algorithm the imported key must carry: the guard against algorithm confusion. */
  webCrypto: "HMAC" | "RSASSA-PKCS1-v1_5" | "RSA-PSS" | "ECDSA" | "Ed25519";
  /** node:crypto digest name; `null` for EdDSA, which hashes internally. */
  digest: "sha256" | "sha384" | "sha512" | null;
  /** The WebCrypto hash (HMAC, RSA) or named curve (ECDSA) the key was imported for. */
  bound?: string;
  /** JWS wants ECDSA signatures as raw r||s (RFC 7518 §3.4), of exactly this many bytes: DER is refused. */
  rawSignatureBytes?: number;
}

const FAMILIES: Readonly<Record<JwtAlgorithm, Family>> = {
  HS256: { webCrypto: "HMAC", digest: "sha256", bound: "SHA-256" },
  HS384: { webCrypto: "HMAC", digest: "sha384", bound: "SHA-384" },
  HS512: { webCrypto: "HMAC", digest: "sha512", bound: "SHA-512" },
  RS256: { webCrypto: "RSASSA-PKCS1-v1_5", digest: "sha256", bound: "SHA-256" },
  RS384: { webCrypto: "RSASSA-PKCS1-v1_5", digest: "sha384", bound: "SHA-384" },
  RS512: { webCrypto: "RSASSA-PKCS1-v1_5", digest: "sha512", bound: "SHA-512" },
  PS256: { webCrypto: "RSA-PSS", digest: "sha256", bound: "SHA-256" },
  PS384: { webCrypto: "RSA-PSS", digest: "sha384", bound: "SHA-384" },
  PS512: { webCrypto: "RSA-PSS", digest: "sha512", bound: "SHA-512" },
  ES256: { webCrypto: "ECDSA", digest: "sha256", bound: "P-256", rawSignatureBytes: 64 },
  ES384: { webCrypto: "ECDSA", digest: "sha384", bound: "P-384", rawSignatureBytes: 96 },
  ES512: { webCrypto: "ECDSA", digest: "sha512", bound: "P-521", rawSignatureBytes: 132 },
  EdDSA: { webCrypto: "Ed25519", digest: null },
  Ed25519: { webCrypto: "Ed25519", digest: null },
};

const MIN_RSA_BITS = 2048;
/** RFC 7518 §3.5: the PSS salt is as long as the hash output. */
const PSS_SALT_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

interface Prepared {
  alg: string;
  check: SignatureCheck;
}

/** One check per imported key: jose imports each key for exactly one algorithm, so key → algorithm is 1:1. */
const prepared = new WeakMap<CryptoKey, Prepared>();

/**
 * The node:crypto check for tokens of `alg` under `key` (a key jose imported for that algorithm),
 * built once per key. WebCrypto verification costs a trip through libuv's thread pool per call;
 * node:crypto on a `KeyObject` verifies in place, several times faster per token.
 * Refuses (`unknown_key`) a key imported for anything but `alg`: no key ever serves another family.
 */
export function signatureCheckFor(alg: JwtAlgorithm, key: CryptoKey): SignatureCheck {
  const known = prepared.get(key);
  if (known !== undefined) {
    if (known.alg !== alg) refuse("unknown_key", "no usable key for the token algorithm");
    return known.check;
  }
  const check = buildCheck(alg, key);
  prepared.set(key, { alg, check });
  return check;
}

function buildCheck(alg: JwtAlgorithm, key: CryptoKey): SignatureCheck {
  const family = FAMILIES[alg];
  const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
  const bound = algorithm.hash?.name ?? algorithm.namedCurve;
  if (algorithm.name !== family.webCrypto || bound !== family.bound || !key.usages.includes("verify")) {
    refuse("unknown_key", "no usable key for the token algorithm");
  }
  const keyObject = KeyObject.from(key);
  const digest = family.digest;

  if (family.webCrypto === "HMAC") {
    if (keyObject.type !== "secret") refuse("unknown_key", "no usable key for the token algorithm");
    // createHmac takes raw bytes a little faster than a KeyObject, and this runs on every miss.
    const secret = keyObject.export();
    return (signingInput, signature) => {
      const expected = createHmac(digest as string, secret)
        .update(signingInput, "latin1")
        .digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    };
  }

  if (keyObject.type !== "public") refuse("unknown_key", "no usable key for the token algorithm");
  if (family.webCrypto === "RSASSA-PKCS1-v1_5" || family.webCrypto === "RSA-PSS") {
    const bits = keyObject.asymmetricKeyDetails?.modulusLength;
    if (keyObject.asymmetricKeyType !== "rsa" || bits === undefined || bits < MIN_RSA_BITS) {
      refuse("unknown_key", "no usable key for the token algorithm");
    }
    const options =
      family.webCrypto === "RSA-PSS"
        ? {
            key: keyObject,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: PSS_SALT_BYTES[digest as keyof typeof PSS_SALT_BYTES],
          }
        : { key: keyObject, padding: constants.RSA_PKCS1_PADDING };
    return (signingInput, signature) =>
      verify(digest, Buffer.from(signingInput, "latin1"), options, signature);
  }

  if (family.webCrypto === "ECDSA") {
    if (keyObject.asymmetricKeyType !== "ec") refuse("unknown_key", "no usable key for the token algorithm");
    const options = { key: keyObject, dsaEncoding: "ieee-p1363" as const };
    const length = family.rawSignatureBytes;
    return (signingInput, signature) =>
      signature.length === length && verify(digest, Buffer.from(signingInput, "latin1"), options, signature);
  }

  if (keyObject.asymmetricKeyType !== "ed25519")
    refuse("unknown_key", "no usable key for the token algorithm");
  return (signingInput, signature) =>
    signature.length === 64 && verify(null, Buffer.from(signingInput, "latin1"), keyObject, signature);
}
