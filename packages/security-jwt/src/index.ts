export type { JwtAlgorithm } from "./jwt-algorithms.js";
export type { JwtKeySet, JwtPublicJwk, RemoteJwksOptions } from "./jwt-keys.js";
export type { ClaimPath, JwtClaimMapping, JwtPrincipalMapper } from "./jwt-principal.js";
export {
  createJwtTokenDecoder,
  type JwtTokenCacheOptions,
  JwtTokenDecoder,
  type JwtTokenDecoderOptions,
  type VerifiedJwt,
} from "./jwt-token-decoder.js";
