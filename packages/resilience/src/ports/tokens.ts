import type { TokenDecoder } from "@proj/ports";
import { policyOf, type ResilienceOptions, type ResiliencePolicy } from "../policy.js";
import { withSignal } from "../shared.js";

/**
 * A `TokenDecoder` whose `decode` goes through `policy` (or a policy made from these options).
 * `decode` is retried when the key source fails (`UNAVAILABLE`); a refusal (`UNAUTHENTICATED`) is
 * an answer, never retried and never a failure for the breaker.
 */
export function withResilienceTokenDecoder(
  decoder: TokenDecoder,
  policy: ResiliencePolicy | ResilienceOptions = {},
): TokenDecoder {
  const p = policyOf(policy);
  const decode = p.operation("tokens", "decode", { idempotent: true });
  return {
    decode: (token, options) =>
      p.run(decode, options?.signal, (signal) => decoder.decode(token, withSignal(options, signal))),
    close: () => decoder.close(),
    [Symbol.asyncDispose]: () => decoder.close(),
  };
}
