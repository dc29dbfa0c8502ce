import type { TokenDecoder, TokenIssuer } from "@proj/ports";
import { describe } from "vitest";
import { useFreshAdapter } from "../harness.js";
import { acceptanceTests } from "./acceptance.js";
import { lifecycleTests } from "./lifecycle.js";
import { refusalTests } from "./refusals.js";

export { expectRefusal } from "./refusals.js";

/** A decoder under test and the issuers the suite signs its tokens with. */
export interface TokenDecoderSetup {
  decoder: TokenDecoder;
  /** Issues tokens the decoder trusts (right key, issuer, audience, type). */
  issuer: TokenIssuer;
  /** Issues otherwise valid tokens under a key the decoder does not trust. */
  untrustedIssuer: TokenIssuer;
  /** The decoder's size limit: the suite presents a token just over it and expects `too_large`. */
  maxTokenBytes: number;
}

export interface TokenDecoderHarness {
  /** A fresh decoder with its issuers. The suite closes the decoder after each test. */
  create(): Promise<TokenDecoderSetup>;
}

/** Registers the `TokenDecoder` contract (packages/ports/src/tokens.ts) against an adapter. */
export function tokenDecoderContract(name: string, harness: TokenDecoderHarness): void {
  describe(`${name}: TokenDecoder contract`, () => {
    const setup = useFreshAdapter({
      create: async () => {
        const created = await harness.create();
        return { ...created, close: () => created.decoder.close() };
      },
    });
    acceptanceTests(setup);
    refusalTests(setup);
    lifecycleTests(setup);
  });
}
