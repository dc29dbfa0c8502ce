import { SpanKind } from "@opentelemetry/api";
import type { OperationOptions, Principal, TokenDecoder } from "@proj/ports";
import { PORT_DURATION, portOperation } from "./generic.js";
import { type InstrumentOptions, type Operation, Telemetry } from "./telemetry.js";

/**
 * Traces and measures `TokenDecoder.decode`: one `INTERNAL` span per call named
 * `TokenDecoder.decode`; a refusal records `error.type` `UNAUTHENTICATED` and the port's stable
 * reason as `proj.token.failure_reason` (`expired`, `bad_signature`…). The token, the header it
 * came in, its claims and the principal are never recorded.
 */
export function instrumentTokenDecoder(decoder: TokenDecoder, options: InstrumentOptions = {}): TokenDecoder {
  const telemetry = new Telemetry(options, [PORT_DURATION]);
  return new InstrumentedTokenDecoder(
    decoder,
    telemetry,
    portOperation(telemetry, "TokenDecoder", "decode", SpanKind.INTERNAL),
  );
}

class InstrumentedTokenDecoder implements TokenDecoder {
  readonly #inner: TokenDecoder;
  readonly #t: Telemetry;
  readonly #decode: Operation;

  constructor(inner: TokenDecoder, telemetry: Telemetry, decode: Operation) {
    this.#inner = inner;
    this.#t = telemetry;
    this.#decode = decode;
  }

  decode(tokenOrAuthorizationHeader: string, options?: OperationOptions): Promise<Principal> {
    if (this.#t.passthrough()) return this.#inner.decode(tokenOrAuthorizationHeader, options);
    return this.#t.run(this.#decode, () => this.#inner.decode(tokenOrAuthorizationHeader, options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}
