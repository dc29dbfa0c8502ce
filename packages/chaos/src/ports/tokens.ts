import type { TokenDecoder } from "@proj/ports";
import { type Chaos, type ChaosOptions, chaosOf } from "../chaos.js";
import { intercept } from "../intercept.js";

/**
 * A `TokenDecoder` with faults injected by `chaos` (or a chaos made from these options). `decode`
 * has no key: the token never reaches a rule or a record. An injected `UNAUTHENTICATED` is an
 * `UnauthenticatedError` with the rule's `reason`.
 */
export function withChaosTokenDecoder(decoder: TokenDecoder, chaos: Chaos | ChaosOptions): TokenDecoder {
  const c = chaosOf(chaos);
  const decode = c.site("tokens", "decode");
  return {
    decode: (token, options) =>
      intercept(decode, undefined, options?.signal, () => decoder.decode(token, options)),
    close: () => decoder.close(),
    [Symbol.asyncDispose]: () => decoder.close(),
  };
}
