/** The JWS algorithms the decoder can verify. `none` is not one of them, in any spelling. */
export type JwtAlgorithm =
  | "HS256"
  | "HS384"
  | "HS512"
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "ES256"
  | "ES384"
  | "ES512"
  | "EdDSA"
  | "Ed25519";

export interface AlgorithmSpec {
  /** The JWK `kty` a key must have to verify this algorithm: the guard against algorithm confusion. */
  kty: "oct" | "RSA" | "EC" | "OKP";
  /** The JWK `crv` the key must have, for curve-bound algorithms. */
  crv?: string;
  /** HMAC hash, and the minimum secret length RFC 7518 §3.2 asks for (the hash output size). */
  hash?: "SHA-256" | "SHA-384" | "SHA-512";
  minSecretBytes?: number;
}

export const ALGORITHMS: Readonly<Record<JwtAlgorithm, AlgorithmSpec>> = {
  HS256: { kty: "oct", hash: "SHA-256", minSecretBytes: 32 },
  HS384: { kty: "oct", hash: "SHA-384", minSecretBytes: 48 },
  HS512: { kty: "oct", hash: "SHA-512", minSecretBytes: 64 },
  RS256: { kty: "RSA" },
  RS384: { kty: "RSA" },
  RS512: { kty: "RSA" },
  PS256: { kty: "RSA" },
  PS384: { kty: "RSA" },
  PS512: { kty: "RSA" },
  ES256: { kty: "EC", crv: "P-256" },
  ES384: { kty: "EC", crv: "P-384" },
  ES512: { kty: "EC", crv: "P-521" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
  Ed25519: { kty: "OKP", crv: "Ed25519" },
};

export function isJwtAlgorithm(value: unknown): value is JwtAlgorithm {
  return typeof value === "string" && Object.hasOwn(ALGORITHMS, value);
}
